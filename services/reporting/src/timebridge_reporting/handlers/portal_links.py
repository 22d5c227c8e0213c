"""Sending sign-in links: a recorded request becomes one mail with a one-time link, or nothing.

The HTTP route only records the request (same answer, same work, whether or not the address
receives reports); this loop decides. An address no live definition delivers to gets nothing.
A recipient gets a fresh token whose SHA-256 is stored in the same transaction that claims the
request and marks it sent, so the link in a mail the server accepted is valid exactly when that
transaction commits. A transient mail failure rolls the token back and retries with backoff
until the link would have expired anyway; a permanent refusal gives up. Each attempt carries its
own Message-ID: a retry's mail holds a different link, which mail systems must not drop as a
duplicate of a mail whose link never became valid.
"""

import asyncio
import contextlib
import datetime as dt
from email.message import EmailMessage

import structlog

from timebridge_reporting.adapters.mail import Mailer, PermanentMailError, compose, message_id
from timebridge_reporting.adapters.portal import LinkRequest, PostgresPortal
from timebridge_reporting.domain.portal import LINK_PREFIX, link_text, new_token, token_hash
from timebridge_reporting.handlers.runner import Clock

log = structlog.get_logger(__name__)
SWEEP_EVERY = dt.timedelta(minutes=10)
"""How often settled requests and dead links older than a day are deleted."""


class LinkSender:
    def __init__(
        self,
        portal: PostgresPortal,
        mailer: Mailer,
        *,
        sender: str,
        console_url: str,
        ttl: dt.timedelta,
        clock: Clock,
        poll_interval_s: float = 5.0,
        backoff_s: float = 5.0,
    ) -> None:
        self.portal, self.mailer, self.sender = portal, mailer, sender
        self.console_url, self.ttl, self.clock = console_url.rstrip("/"), ttl, clock
        self.poll_interval_s, self.backoff_s = poll_interval_s, backoff_s
        self.wake = asyncio.Event()
        """Set by the route after recording a request: this replica sends at once."""

    async def run(self) -> None:
        swept: dt.datetime | None = None
        while True:
            try:
                await self.step()
                now = self.clock()
                if swept is None or now - swept > SWEEP_EVERY:
                    await self.portal.forget_old(now)
                    swept = now
            except Exception:
                log.exception("portal link pass failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.poll_interval_s)
            self.wake.clear()

    async def step(self) -> int:
        """Handle every due request; the number of links sent."""
        sent = 0
        while True:
            now = self.clock()
            async with self.portal.due_request(now) as claim:
                if claim is None:
                    return sent
                conn, request = claim
                if now - request.requested_at >= self.ttl:
                    await self.portal.settle(conn, request, "failed", error="expired unsent")
                    continue
                if not await self.portal.recipient_known(conn, request.workspace_id, request.email):
                    await self.portal.settle(conn, request, "ignored")
                    continue
                try:
                    async with conn.transaction():  # savepoint: the token only with the mail
                        token = new_token(LINK_PREFIX)
                        await self.portal.add_link(conn, request, token_hash(token), now, self.ttl)
                        await self.mailer.send(self._mail(request, token))
                except Exception as exc:
                    retry = None
                    if not isinstance(exc, PermanentMailError):
                        delay = self.backoff_s * 2 ** min(request.attempts, 8)
                        retry = now + dt.timedelta(seconds=delay)
                    log.warning("portal link not sent", request=request.request_id, error=str(exc))
                    status = "failed" if retry is None else "pending"
                    await self.portal.settle(
                        conn, request, status, error=str(exc) or repr(exc), retry_at=retry
                    )
                    continue
                await self.portal.settle(conn, request, "sent")
                sent += 1

    def _mail(self, request: LinkRequest, token: str) -> EmailMessage:
        url = f"{self.console_url}/portal/sign-in?token={token}"
        return compose(
            sender=self.sender,
            recipient=request.email,
            subject="Your sign-in link to the Timebridge reports portal",
            text=link_text(url, request.workspace_id, self.ttl),
            attachments={},
            basename="",
            msg_id=message_id(f"portal-link:{request.request_id}:{request.attempts}"),
        )
