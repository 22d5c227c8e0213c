"""The Core sandbox's routes (docs/contracts/core.md) and its admin API; the app factory."""

from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime
from starlette.exceptions import HTTPException

from timebridge_sandboxes.core import commercial
from timebridge_sandboxes.core.deps import Caller, Limit, Sandbox
from timebridge_sandboxes.core.rules import (
    _by_change,
    _EntryIn,
    _page,
    _Sandbox,
    _Seed,
    _SubscriptionIn,
    _TicketIn,
)
from timebridge_sandboxes.core.state import (
    RATE_LIMIT,
    CoreState,
    Json,
    Subscription,
    Webhooks,
    _creation,
    _error_body,
)
from timebridge_sandboxes.faults import ApiError, Faults, RateLimit, error_response, install

api = APIRouter()
admin = APIRouter(prefix="/_sandbox", tags=["sandbox"])


@api.get("/me")
async def me(caller: Caller) -> Json:
    return {"workspace_id": caller.workspace_id, "user": _Sandbox.user_json(caller)}


@api.get("/users")
async def users(
    sandbox: Sandbox, caller: Caller, limit: Limit = 50, cursor: str | None = None
) -> Json:
    found = (
        u
        for u in sandbox.state.users.values()
        if u.workspace_id == caller.workspace_id and not u.service
    )
    return _page(found, lambda u: (_creation(u.id),), _Sandbox.user_json, limit, cursor)


@api.get("/projects")
async def projects(
    sandbox: Sandbox, caller: Caller, limit: Limit = 50, cursor: str | None = None
) -> Json:
    found = (p for p in sandbox.state.projects.values() if p.workspace_id == caller.workspace_id)
    return _page(
        found,
        lambda p: (_creation(p.id),),
        lambda p: {"id": p.id, "name": p.name, "archived": p.archived},
        limit,
        cursor,
    )


@api.get("/tickets")
async def tickets(
    sandbox: Sandbox,
    caller: Caller,
    *,
    project_id: str | None = None,
    updated_since: AwareDatetime | None = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> Json:
    found = (
        t
        for t in sandbox.state.tickets.values()
        if t.workspace_id == caller.workspace_id
        and project_id in (None, t.project_id)
        and (updated_since is None or t.updated_at >= updated_since)
    )
    return _page(found, _by_change, _Sandbox.ticket_json, limit, cursor)


@api.get("/tickets/{ticket_id}")
async def ticket(sandbox: Sandbox, caller: Caller, ticket_id: str) -> Json:
    return sandbox.ticket_json(sandbox.ticket(ticket_id, caller.workspace_id))


@api.get("/time-entries")
async def time_entries(
    sandbox: Sandbox,
    caller: Caller,
    *,
    updated_since: AwareDatetime | None = None,
    include_deleted: bool = False,
    external_system: str | None = None,
    external_id: str | None = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> Json:
    if (external_system is None) != (external_id is None):
        raise ApiError(400, "external_system and external_id go together")
    ref = None if external_id is None else {"system": external_system, "id": external_id}
    found = (
        e
        for e in sandbox.state.entries.values()
        if e.workspace_id == caller.workspace_id
        and (include_deleted or e.deleted_at is None)
        and (updated_since is None or e.updated_at >= updated_since)
        and (ref is None or e.external_ref == ref)
    )
    limit = min(limit, sandbox.state.page_cap or limit)
    return _page(found, _by_change, sandbox.entry_json, limit, cursor)


@api.get("/time-entries/{entry_id}")
async def time_entry(sandbox: Sandbox, caller: Caller, entry_id: str) -> Json:
    return sandbox.entry_json(sandbox.entry(entry_id, caller.workspace_id))


@api.post("/time-entries", status_code=201)
async def create_time_entry(
    sandbox: Sandbox,
    caller: Caller,
    body: _EntryIn,
    response: Response,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Json:
    key = (caller.workspace_id, idempotency_key or "")
    fields = body.model_dump(mode="json", exclude_unset=True)
    if idempotency_key and key in sandbox.state.idempotency:
        first_fields, first_answer = sandbox.state.idempotency[key]
        if first_fields != fields:
            raise ApiError(409, "Idempotency-Key was already used with another body")
        response.status_code = 200
        return first_answer
    answer = sandbox.entry_json(sandbox.create_entry(caller.workspace_id, body, caller))
    if idempotency_key:
        sandbox.state.idempotency[key] = (fields, answer)
    return answer


@api.patch("/time-entries/{entry_id}")
async def update_time_entry(
    sandbox: Sandbox,
    caller: Caller,
    entry_id: str,
    body: _EntryIn,
    if_match: Annotated[str | None, Header()] = None,
) -> Json:
    entry = sandbox.entry(entry_id, caller.workspace_id)
    try:
        version = None if if_match is None else int(if_match.strip('"'))
    except ValueError:
        raise ApiError(400, "If-Match must be the entry's version number") from None
    return sandbox.entry_json(sandbox.update_entry(entry, body, caller, version))


@api.delete("/time-entries/{entry_id}", status_code=204)
async def delete_time_entry(sandbox: Sandbox, caller: Caller, entry_id: str) -> Response:
    sandbox.delete_entry(sandbox.entry(entry_id, caller.workspace_id), caller)
    return Response(status_code=204)


@admin.post("/seed")
async def seed(sandbox: Sandbox, body: _Seed) -> Json:
    state = sandbox.state
    workspace = body.workspace_id
    users = [
        state.add_user(
            workspace, u.name, email=u.email, role=u.role, token=u.token, active=u.active
        )
        for u in body.users
    ]
    service = [state.add_service_token(workspace, token) for token in body.service_tokens]
    projects: list[Json] = []
    for p in body.projects:
        project_id = state.add_project(workspace, p.name, archived=p.archived)
        ticket_ids = [state.add_ticket(workspace, t, project_id=project_id) for t in p.tickets]
        projects.append({"id": project_id, "tickets": ticket_ids})
    return {
        "workspace_id": workspace,
        "users": users,
        "service_users": service,
        "projects": projects,
    }


@admin.put("/workspaces/{workspace_id}/webhook")
async def subscribe(sandbox: Sandbox, workspace_id: str, body: _SubscriptionIn) -> Json:
    sandbox.state.webhooks[workspace_id] = Subscription(
        body.url, body.secret, body.previous_secrets
    )
    return {"url": body.url}


@admin.delete("/workspaces/{workspace_id}/webhook", status_code=204)
async def unsubscribe(sandbox: Sandbox, workspace_id: str) -> Response:
    if sandbox.state.webhooks.pop(workspace_id, None) is None:
        raise ApiError(404, "No webhook subscription")
    return Response(status_code=204)


@admin.post("/workspaces/{workspace_id}/time-entries", status_code=201)
async def ui_create_entry(sandbox: Sandbox, workspace_id: str, body: _EntryIn) -> Json:
    return sandbox.entry_json(sandbox.create_entry(workspace_id, body, None))


@admin.patch("/time-entries/{entry_id}")
async def ui_update_entry(sandbox: Sandbox, entry_id: str, body: _EntryIn) -> Json:
    return sandbox.entry_json(sandbox.update_entry(sandbox.entry(entry_id), body, None))


@admin.delete("/time-entries/{entry_id}", status_code=204)
async def ui_delete_entry(sandbox: Sandbox, entry_id: str) -> Response:
    sandbox.delete_entry(sandbox.entry(entry_id), None)
    return Response(status_code=204)


@admin.post("/time-entries/{entry_id}/lock")
async def ui_lock_entry(sandbox: Sandbox, entry_id: str) -> Json:
    return sandbox.entry_json(sandbox.lock_entry(sandbox.entry(entry_id)))


@admin.post("/workspaces/{workspace_id}/tickets", status_code=201)
async def ui_create_ticket(sandbox: Sandbox, workspace_id: str, body: _TicketIn) -> Json:
    return sandbox.ticket_json(sandbox.create_ticket(workspace_id, body))


@admin.patch("/tickets/{ticket_id}")
async def ui_update_ticket(sandbox: Sandbox, ticket_id: str, body: _TicketIn) -> Json:
    return sandbox.ticket_json(sandbox.update_ticket(sandbox.ticket(ticket_id), body))


@admin.get("/deliveries")
async def deliveries(sandbox: Sandbox) -> list[Json]:
    return [
        {
            "id": d.id,
            "subject": d.subject,
            "url": d.url,
            "payload": d.payload,
            "answers": d.answers,
            "outcome": d.outcome,
        }
        for d in sandbox.state.deliveries
    ]


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    """A body whose fields are wrong is ``422``; anything else malformed (JSON, query) ``400``."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    fields = all(e["loc"][0] == "body" and e["type"] != "json_invalid" for e in errors)
    message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
    return error_response(_error_body, ApiError(422 if fields else 400, message))


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(_error_body, ApiError(exc.status_code, str(exc.detail)))


def create_core_sandbox(
    state: CoreState | None = None,
    faults: Faults | None = None,
    *,
    rate_limit: RateLimit | None = None,
    webhooks: Webhooks | None = None,
) -> FastAPI:
    """The sandbox app; ``webhooks`` sets how (and through which transport) webhooks are sent."""
    sandbox = _Sandbox(
        state if state is not None else CoreState(),
        faults if faults is not None else Faults(),
        rate_limit if rate_limit is not None else RateLimit(*RATE_LIMIT),
        webhooks if webhooks is not None else Webhooks(),
    )
    app = FastAPI(title="Core sandbox")
    app.state.sandbox = sandbox
    install(app, sandbox.faults, sandbox.limit, sandbox.state.reset, _error_body)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http_error)
    app.include_router(api)
    app.include_router(admin)
    app.include_router(commercial.api)
    app.include_router(commercial.admin)
    return app
