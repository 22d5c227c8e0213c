"""The webhook API (``/events/account/{account_id}/events/callbacks``): register, verify, resend."""

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Header
from fastapi.responses import Response

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.freshbooks.deps import Listing, Sandbox, _account, _caller
from timebridge_sandboxes.freshbooks.rules import _result, _Sandbox
from timebridge_sandboxes.freshbooks.state import (
    EVENTS,
    Json,
    _Callback,
    _events_error,
    _next_id,
    _Refusal,
)
from timebridge_sandboxes.freshbooks.wire import _CallbackBody, _CallbackIn, _validated

events = APIRouter()


def _events_account(
    sandbox: Sandbox, account_id: str, authorization: Annotated[str | None, Header()] = None
) -> str:
    """The caller's account, refused in the webhook API's own shape (``{"errno": 401,
    "message"}``, FreshBooks' SDK fixture ``get_callback_response__no_auth``)."""
    try:
        return _account(_caller(sandbox, authorization), account_id)
    except ApiError as exc:
        if isinstance(exc, _Refusal) or exc.status not in (401, 403):
            raise
        raise _events_error(exc.status, exc.message) from None


Account = Annotated[str, Depends(_events_account)]


@events.get("/events/account/{account_id}/events/callbacks")
async def callbacks(sandbox: Sandbox, account_id: Account, listing: Listing) -> Json:
    found = [
        sandbox.callback_json(c)
        for c in sandbox.state.callbacks.values()
        if c.account_id == account_id
    ]
    return listing.answer("callbacks", found)


@events.post("/events/account/{account_id}/events/callbacks")
async def create_callback(
    sandbox: Sandbox, account_id: Account, body: _CallbackBody, background: BackgroundTasks
) -> Json:
    fields = _validated(_CallbackIn, body.callback, events=True)
    problems = [] if fields.event in EVENTS else ["event: Value error, Unrecognized event."]
    if not fields.uri.startswith(("http://", "https://")):
        problems.append("uri: Input should be a valid URL")
    if problems:
        raise _events_error(422, "The request was unable to be followed.", problems)
    created = _Callback(
        _next_id(sandbox.state.callbacks, 3001),
        account_id,
        fields.event,
        fields.uri,
        secrets.token_urlsafe(24),
        sandbox.state.now(),
    )
    sandbox.state.callbacks[created.id] = created
    sandbox.ask_verification(background, created)
    return _result("callback", sandbox.callback_json(created))


def _callback(sandbox: _Sandbox, account_id: str, callback_id: int) -> _Callback:
    found = sandbox.state.callbacks.get(callback_id)
    if found is None or found.account_id != account_id:
        raise _events_error(404, "Requested resource could not be found.")
    return found


@events.get("/events/account/{account_id}/events/callbacks/{callback_id}")
async def get_callback(sandbox: Sandbox, account_id: Account, callback_id: int) -> Json:
    return _result("callback", sandbox.callback_json(_callback(sandbox, account_id, callback_id)))


@events.put("/events/account/{account_id}/events/callbacks/{callback_id}")
async def update_callback(
    sandbox: Sandbox,
    account_id: Account,
    callback_id: int,
    body: _CallbackBody,
    background: BackgroundTasks,
) -> Json:
    """``{"verifier"}`` activates the callback, ``{"resend": true}`` asks for the code again."""
    found = _callback(sandbox, account_id, callback_id)
    if body.callback.get("resend") is True:
        sandbox.ask_verification(background, found)
    elif "verifier" in body.callback:
        if not hmac.compare_digest(str(body.callback["verifier"]), found.verifier):
            raise _events_error(422, "Invalid verifier.", ["verifier: does not match"])
        found.verified = True
        found.updated_at = sandbox.state.now()
    else:
        raise _events_error(422, "Nothing to update.", ["callback: verifier or resend needed"])
    return _result("callback", sandbox.callback_json(found))


@events.delete("/events/account/{account_id}/events/callbacks/{callback_id}", status_code=204)
async def delete_callback(sandbox: Sandbox, account_id: Account, callback_id: int) -> Response:
    del sandbox.state.callbacks[_callback(sandbox, account_id, callback_id).id]
    return Response(status_code=204)
