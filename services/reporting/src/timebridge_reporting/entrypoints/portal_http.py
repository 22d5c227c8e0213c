"""HTTP routes of the recipients' portal (``/v1/portal/...``), used by the console's portal pages.

Two routes answer anyone: asking for a sign-in link (always the same ``202``, whether or not the
address receives reports, so the route tells nobody who does) and exchanging a link's token for
a portal session. Every other route takes that session (``Authorization: Bearer tbp_...``), never
a Core token, and answers only within the session's workspace, address and client scope (see
:mod:`timebridge_reporting.domain.portal`): anything else is ``404``, as if it did not exist.
"""

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Path, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from timebridge_common.api import WorkspaceIdPath
from timebridge_common.runtime import ServiceRuntime
from timebridge_reporting.adapters.formats import MEDIA_TYPES, Format
from timebridge_reporting.adapters.mail import Mailer
from timebridge_reporting.adapters.portal import PortalRun, PortalSession, PostgresPortal
from timebridge_reporting.adapters.runs import Definition, PostgresRuns, RunRequest
from timebridge_reporting.config import Settings
from timebridge_reporting.domain.definitions import Email
from timebridge_reporting.domain.portal import (
    LINK_PREFIX,
    SESSION_PREFIX,
    client_limit,
    new_token,
    scope_of,
    token_hash,
    well_formed,
    within,
)
from timebridge_reporting.domain.report_model import Period
from timebridge_reporting.handlers.portal_links import LinkSender
from timebridge_reporting.handlers.runner import Clock
from timebridge_reporting.portal_config import PortalConfig

SCHEME = "PortalSessionToken"
BEARER = HTTPBearer(auto_error=False, scheme_name=SCHEME)
IdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
BAD_LINK = (
    "This sign-in link is not valid: it was used already, it expired, or it is not one of ours."
    " Ask for a new one."
)
ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file"},
    401: {"description": "No portal session, or one that ended or expired"},
    404: {"description": "No such report, run or format for this recipient"},
    422: {"description": "The request does not satisfy the schema (e.g. a period over a year)"},
    429: {"description": "Too many reports requested in the last hour"},
}
ACCEPTED = {
    "status": "accepted",
    "detail": "If this address receives reports of the workspace, a sign-in link is on its way.",
}


class LinkAsk(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    email: Email


class Exchange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    token: str = Field(min_length=1, max_length=200)


class PeriodAsk(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start: dt.date
    end: dt.date


def _declared(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: ANSWERS[code] for code in codes}


def _definition_json(definition: Definition, names: dict[str, str]) -> dict[str, Any]:
    """What a recipient sees of a definition: never its other recipients."""
    body = definition.body
    limit = client_limit(body.params)
    schedule = body.schedule
    return {
        "definition_id": definition.definition_id,
        "name": body.name,
        "kind": body.params.kind,
        "group_by": body.params.group_by,
        "formats": list(body.formats),
        "clients": None
        if limit is None
        else [{"client_id": c, "name": names.get(c, c)} for c in sorted(limit)],
        "schedule": None
        if schedule is None
        else schedule.model_dump(mode="json", include={"kind", "at", "weekday", "timezone"}),
    }


def _run_json(run: PortalRun, definitions: dict[str, Definition]) -> dict[str, Any]:
    row = run.row
    definition = definitions[run.definition_id]
    offered = [f for f in row["outputs"] if f in definition.body.formats or f == "json"]
    return {
        "run_id": run.run_id,
        "definition_id": run.definition_id,
        "name": definition.body.name,
        "kind": run.params.kind,
        "status": row["status"],
        "cause": str(row["cause"]).split(":", 1)[0],
        "period_start": row["period_start"],
        "period_end": row["period_end"],
        "fresh_up_to": row["fresh_up_to"],
        "requested_at": row["requested_at"],
        "finished_at": row["finished_at"],
        "delivery": row["delivery"],
        "downloads": offered if row["status"] == "done" else [],
    }


class Portal:
    """What every portal route needs: the stores, settings, the link sender and the clock."""

    def __init__(
        self,
        portal: PostgresPortal,
        runs: PostgresRuns,
        config: PortalConfig,
        links: LinkSender,
        clock: Clock,
    ) -> None:
        self.store, self.runs, self.config = portal, runs, config
        self.links, self.clock = links, clock

    async def signed_in(
        self, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
    ) -> PortalSession:
        """Dependency: the caller's portal session, or 401."""
        token = credentials.credentials if credentials else ""
        found = None
        if well_formed(token, SESSION_PREFIX):
            found = await self.store.session(token_hash(token), self.clock())
        if found is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "sign in to the portal again (no session, or it ended)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return found

    async def visible(self, session: PortalSession) -> dict[str, Definition]:
        """The session's definitions: delivered to it, and within its client scope."""
        found = await self.store.definitions_of(session.workspace_id, session.email)
        return {
            d.definition_id: d
            for d in found
            if within(client_limit(d.body.params), session.clients)
        }

    async def visible_runs(
        self, session: PortalSession, run_id: str | None = None
    ) -> tuple[list[PortalRun], dict[str, Definition]]:
        """Runs of those definitions addressed to it, whose own parameters are in scope."""
        definitions = await self.visible(session)
        found = await self.store.runs_to(
            session.workspace_id, session.email, list(definitions), run_id
        )
        return [r for r in found if within(client_limit(r.params), session.clients)], definitions


def portal_routes(api: Portal) -> APIRouter:
    router = APIRouter(prefix="/v1/portal", tags=["portal"])
    add_sign_in_routes(router, api)
    add_report_routes(router, api)
    return router


def add_sign_in_routes(router: APIRouter, api: Portal) -> None:
    Session = Annotated[PortalSession, Depends(api.signed_in)]
    store, clock = api.store, api.clock

    @router.post(
        "/workspaces/{workspace_id}/sign-in-links",
        status_code=status.HTTP_202_ACCEPTED,
        summary="Ask for a one-time sign-in link by email (the same answer for every address)",
        responses=_declared(422),
    )
    async def ask_link(workspace_id: WorkspaceIdPath, body: LinkAsk) -> dict[str, str]:
        if await store.record_request(workspace_id, body.email.lower(), clock()):
            api.links.wake.set()
        return ACCEPTED

    @router.post(
        "/sessions",
        status_code=status.HTTP_201_CREATED,
        summary="Exchange a sign-in link's token (once, before it expires) for a portal session",
        responses=_declared(401, 422),
    )
    async def exchange(body: Exchange) -> dict[str, Any]:
        now = clock()
        used = None
        if well_formed(body.token, LINK_PREFIX):
            used = await store.use_link(token_hash(body.token), now)
        definitions = [] if used is None else await store.definitions_of(*used)
        if used is None or not definitions:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, BAD_LINK)
        workspace_id, email = used
        clients = scope_of(client_limit(d.body.params) for d in definitions)
        session_token = new_token(SESSION_PREFIX)
        expires = await store.open_session(
            token_hash(session_token),
            workspace_id=workspace_id,
            email=email,
            clients=clients,
            now=now,
            ttl=dt.timedelta(seconds=api.config.session_ttl_s),
        )
        return {
            "session_token": session_token,
            "expires_at": expires,
            "workspace_id": workspace_id,
            "email": email,
            "clients": None if clients is None else sorted(clients),
        }

    @router.get(
        "/me", summary="Who is signed in, where, and for which clients", responses=_declared(401)
    )
    async def me(session: Session) -> dict[str, Any]:
        clients = None
        if session.clients is not None:
            names = await store.client_names(session.workspace_id, sorted(session.clients))
            clients = [{"client_id": c, "name": names.get(c, c)} for c in sorted(session.clients)]
        return {
            "workspace_id": session.workspace_id,
            "email": session.email,
            "clients": clients,
            "expires_at": session.expires_at,
        }

    @router.delete(
        "/session",
        status_code=status.HTTP_204_NO_CONTENT,
        summary="Sign out: the session token stops working",
        responses=_declared(401),
    )
    async def sign_out(
        _: Session,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> Response:
        assert credentials is not None
        await store.end_session(token_hash(credentials.credentials), clock())
        return Response(status_code=status.HTTP_204_NO_CONTENT)


def add_report_routes(router: APIRouter, api: Portal) -> None:
    Session = Annotated[PortalSession, Depends(api.signed_in)]
    store, clock, config = api.store, api.clock, api.config

    @router.get("/reports", summary="The reports this recipient receives", responses=_declared(401))
    async def reports(session: Session) -> list[dict[str, Any]]:
        definitions = await api.visible(session)
        wanted = sorted({c for d in definitions.values() for c in d.body.params.clients})
        names = await store.client_names(session.workspace_id, wanted)
        return [_definition_json(d, names) for d in definitions.values()]

    @router.get(
        "/runs",
        summary="Runs of those reports addressed to this recipient, newest first",
        responses=_declared(401),
    )
    async def history(session: Session) -> list[dict[str, Any]]:
        found, definitions = await api.visible_runs(session)
        return [_run_json(r, definitions) for r in found]

    @router.get(
        "/runs/{run_id}",
        summary="One run (its status while it is generated)",
        responses=_declared(401, 404),
    )
    async def one_run(session: Session, run_id: IdPath) -> dict[str, Any]:
        found, definitions = await api.visible_runs(session, run_id)
        if not found:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such report run")
        return _run_json(found[0], definitions)

    @router.get(
        "/runs/{run_id}/download/{fmt}",
        summary="A run's report in one of its formats",
        response_class=Response,
        responses=_declared(200, 401, 404),
    )
    async def download(session: Session, run_id: IdPath, fmt: Format) -> Response:
        found, definitions = await api.visible_runs(session, run_id)
        offered = _run_json(found[0], definitions)["downloads"] if found else []
        body = await store.output(run_id, fmt) if fmt in offered else None
        if body is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such report run or format")
        name = f"{found[0].params.kind}-{found[0].row['period_start']}-{found[0].row['period_end']}"
        headers = (
            {} if fmt == "json" else {"content-disposition": f'attachment; filename="{name}.{fmt}"'}
        )
        return Response(bytes(body), media_type=MEDIA_TYPES[fmt], headers=headers)

    @router.post(
        "/reports/{definition_id}/requests",
        status_code=status.HTTP_202_ACCEPTED,
        summary="Request one of these reports for a period: generated, then mailed to you",
        responses=_declared(401, 404, 422, 429),
    )
    async def request_report(
        session: Session,
        definition_id: IdPath,
        body: PeriodAsk,
        idempotency_key: Annotated[
            str | None, Header(pattern=r"^[!-~]{8,100}$", description="Same key, same run")
        ] = None,
    ) -> dict[str, Any]:
        definition = (await api.visible(session)).get(definition_id)
        if definition is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such report")
        try:
            period = Period(start=body.start, end=body.end)
        except ValidationError as exc:
            raise HTTPException(422, exc.errors()[0]["msg"]) from None
        now = clock()
        asked = await store.requests_since(
            session.workspace_id, session.email, now - dt.timedelta(hours=1)
        )
        if asked >= config.requests_per_hour:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"at most {config.requests_per_hour} reports an hour: try again later",
                headers={"Retry-After": "600"},
            )
        request = RunRequest(
            session.workspace_id,
            definition_id,
            f"portal:{session.email}:{idempotency_key or uuid.uuid4().hex}",
            "portal",
            definition.body.params,
            definition.body.formats,
            (session.email,),
            period,
        )
        run_id, new = await api.runs.request(request, now)
        return {"run_id": run_id, "status": "pending" if new else "existing", "period": period}


def wire(
    runtime: ServiceRuntime,
    app: FastAPI,
    settings: Settings,
    mailer: Mailer,
    clock: Clock | None = None,
) -> LinkSender:
    """Add the portal's routes and its link sender (a background loop) to the service."""
    assert runtime.pool is not None
    clock = clock or (lambda: dt.datetime.now(dt.UTC))
    portal = PostgresPortal(runtime.pool)
    config = settings.portal
    links = LinkSender(
        portal,
        mailer,
        sender=settings.smtp.sender,
        console_url=config.console_url,
        ttl=dt.timedelta(seconds=config.link_ttl_s),
        clock=clock,
        poll_interval_s=settings.reports.poll_interval_s,
    )
    runtime.background.append(links.run)
    app.include_router(
        portal_routes(Portal(portal, PostgresRuns(runtime.pool), config, links, clock))
    )
    return links
