"""Answering report requests that arrive by email.

Only a known recipient (an address some definition of the workspace delivers to) gets anything
back: the report it asked for, through the usual run and delivery (so once per message), or a
polite refusal saying how to ask. Unknown senders get nothing at all, not even a refusal, so the
request address cannot be used to probe who is known or to send mail to third parties.

A known recipient gets only what the portal would show them: reports within their client scope
(see ``domain.email_requests.limited_to``). A client or project outside it is answered like an
unknown name, and the refusal lists only the definitions within it.
"""

import hashlib
import zoneinfo
from email.message import EmailMessage
from email.utils import parseaddr

import structlog

from timebridge_reporting.adapters.formats import Format
from timebridge_reporting.adapters.inbound import PostgresInbound, Received
from timebridge_reporting.adapters.mail import Mailer, compose, message_id
from timebridge_reporting.adapters.runs import Definition, PostgresRuns, RunRequest
from timebridge_reporting.domain.definitions import covered_period
from timebridge_reporting.domain.email_requests import (
    REFUSAL,
    NamedRequest,
    Outcome,
    PlainRequest,
    limited_to,
    parse_request,
)
from timebridge_reporting.domain.portal import client_limit, receives, scope_of, within
from timebridge_reporting.domain.report_model import ReportParams
from timebridge_reporting.handlers.runner import Clock

log = structlog.get_logger(__name__)
PLAIN_FORMATS: tuple[Format, ...] = ("pdf", "csv")


def _body_text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    if part is None:
        return ""
    try:
        return str(part.get_content())[:10_000]
    except (LookupError, ValueError):
        return ""


class InboundRequests:
    def __init__(
        self,
        inbound: PostgresInbound,
        runs: PostgresRuns,
        mailer: Mailer,
        sender: str,
        *,
        clock: Clock,
    ) -> None:
        self.inbound, self.runs, self.mailer = inbound, runs, mailer
        self.sender, self.clock = sender, clock

    async def handle(self, workspace_id: str, message: EmailMessage, raw: bytes) -> Outcome:
        now = self.clock()
        msg_id = str(message["Message-ID"] or "") or f"<{hashlib.sha256(raw).hexdigest()}@raw>"
        received = Received(
            workspace_id,
            msg_id,
            parseaddr(str(message["From"] or ""))[1].lower(),
            " ".join(str(message["Subject"] or "").split()),
        )
        definitions = await self.inbound.definitions(workspace_id)
        known = {r.lower() for d in definitions for r in d.body.recipients}
        if not received.sender or received.sender not in known:
            recorded = await self.inbound.record(received, "ignored_unknown_sender", now)
            log.info("report request from an unknown sender ignored", workspace=workspace_id)
            return "ignored_unknown_sender" if recorded else "duplicate"
        scope = scope_of(
            client_limit(d.body.params)
            for d in definitions
            if receives(d.body.recipients, received.sender)
        )
        definitions = [d for d in definitions if within(client_limit(d.body.params), scope)]
        names = {d.body.name.lower(): d.definition_id for d in definitions}
        request = parse_request(received.subject, _body_text(message), names)
        if isinstance(request, NamedRequest):
            [definition] = [d for d in definitions if d.definition_id == request.definition_id]
            body = definition.body
            day = now.astimezone(zoneinfo.ZoneInfo(body.timezone)).date()
            period = covered_period(body.default_coverage, day, body.params.week_start)
            return await self._run(
                received,
                RunRequest(workspace_id, definition.definition_id, f"email:{msg_id}", "email",
                           body.params, body.formats, (received.sender,), period),
            )  # fmt: skip
        if isinstance(request, PlainRequest):
            params, problem = await self._plain_params(workspace_id, request, scope)
            if params is not None:
                period = covered_period(request.coverage, now.date(), params.week_start)
                return await self._run(
                    received,
                    RunRequest(workspace_id, "", f"email:{msg_id}", "email", params,
                               PLAIN_FORMATS, (received.sender,), period),
                )  # fmt: skip
            return await self._refuse(received, definitions, problem)
        return await self._refuse(received, definitions, None)

    async def _plain_params(
        self, workspace_id: str, request: PlainRequest, scope: frozenset[str] | None
    ) -> tuple[ReportParams | None, str | None]:
        """The request's parameters within ``scope``, or why there are none."""
        params = ReportParams(kind=request.kind)
        if request.target is not None:
            found = await self.inbound.client_or_project(workspace_id, request.target, scope)
            if found is None:
                return None, f"We know no client or project called {request.target!r}."
            what, ident = found
            which = {"clients": (ident,)} if what == "client" else {"projects": (ident,)}
            params = params.model_copy(update=which)
        limited = limited_to(params, scope)
        if limited is None:
            return None, (
                f"A {request.kind} report covers other clients than yours, so we cannot send it."
            )
        return limited, None

    async def _run(self, received: Received, run: RunRequest) -> Outcome:
        """Record the request and its run together: a message delivered twice is one run."""
        now = self.clock()
        async with self.inbound.transaction_pool().acquire() as conn, conn.transaction():
            if not await self.inbound.record(received, "run", now, conn=conn):
                return "duplicate"
            run_id, _ = await self.runs.request(run, now, conn)
            await self.inbound.link_run(conn, received, run_id)
        return "run"

    async def _refuse(
        self, received: Received, definitions: list[Definition], problem: str | None
    ) -> Outcome:
        if not await self.inbound.record(received, "refused", self.clock(), detail=problem):
            return "duplicate"
        names = ", ".join(f'"{d.body.name}"' for d in definitions) or "none defined yet"
        text = ((problem + "\n\n") if problem else "") + REFUSAL.format(names=names)
        subject = received.subject
        reply = compose(
            sender=self.sender,
            recipient=received.sender,
            subject=f"Re: {subject}" if subject else "Your report request",
            text=text,
            attachments={},
            basename="",
            msg_id=message_id(f"refusal:{received.workspace_id}:{received.message_id}"),
            in_reply_to=received.message_id,
        )
        await self.mailer.send(reply)
        return "refused"
