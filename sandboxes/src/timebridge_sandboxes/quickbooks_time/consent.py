"""QuickBooks Time's consent page, ``GET /api/v1/authorize`` (as its API documentation shows:
``response_type=code``, ``client_id``, ``redirect_uri``, ``state``): the signed-in person (here
the account's first user, its admin) allows or denies the app, and the browser is sent back to
``redirect_uri`` with ``code`` and ``state`` (or ``error=access_denied``). The code is for that
``redirect_uri`` only and is exchanged once at ``POST /api/v1/grant`` (:mod:`.grant`).

Assumed where the documentation is silent: an unknown ``client_id`` or a missing
``redirect_uri`` is a ``400`` page (nothing is sent to an address not vouched for).
"""

import html
import secrets
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from timebridge_sandboxes.quickbooks_time.state import QuickBooksTimeState

consent = APIRouter()
_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>QuickBooks Time: allow access</title></head><body><main>
<h1>Allow access to QuickBooks Time?</h1>
<p>The app <strong>{client}</strong> asks to read and change your company's time data,
as <strong>{user}</strong>.</p>
<form method="post" action="/api/v1/authorize">
<input type="hidden" name="client_id" value="{client}">
<input type="hidden" name="redirect_uri" value="{redirect}">
<input type="hidden" name="state" value="{state}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form></main></body></html>"""
Text = Annotated[str, Query(max_length=2000)]


def _state(request: Request) -> QuickBooksTimeState:
    state: QuickBooksTimeState = request.app.state.qbt
    return state


def _refused(message: str) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><p>{html.escape(message)}</p>", status_code=400)


@consent.get("/api/v1/authorize", response_model=None)
async def consent_page(
    request: Request,
    response_type: Text = "",
    client_id: Text = "",
    redirect_uri: Text = "",
    state: Text = "",
) -> Response:
    qbt = _state(request)
    if client_id != qbt.client_id or not redirect_uri.startswith(("http://", "https://")):
        return _refused("unknown client_id or redirect_uri")
    if response_type != "code":
        query = urlencode({"error": "unsupported_response_type", "state": state})
        return RedirectResponse(f"{redirect_uri}?{query}", status_code=302)
    user = next(iter(qbt.users.values()), None)
    if user is None:
        return _refused("no one is signed in to this account")
    page = _PAGE.format(
        client=html.escape(client_id),
        user=html.escape(f"{user.first_name} {user.last_name}"),
        redirect=html.escape(redirect_uri),
        state=html.escape(state),
    )
    return HTMLResponse(page)


@consent.post("/api/v1/authorize", response_model=None)
async def decide(request: Request) -> Response:
    """The person's choice: a one-time code for ``redirect_uri``, or ``access_denied``."""
    qbt = _state(request)
    try:
        form = dict(parse_qsl((await request.body()).decode()))
    except UnicodeDecodeError:
        return _refused("the form is not UTF-8")
    redirect_uri, state = form.get("redirect_uri", ""), form.get("state", "")
    user = next(iter(qbt.users.values()), None)
    if form.get("client_id") != qbt.client_id or not redirect_uri.startswith(
        ("http://", "https://")
    ):
        return _refused("unknown client_id or redirect_uri")
    if form.get("decision") != "allow" or user is None:
        answer = {"error": "access_denied", "state": state}
    else:
        code = secrets.token_hex(12)
        qbt.codes[code] = user.id
        qbt.code_redirects[code] = redirect_uri
        answer = {"code": code, "state": state}
    return RedirectResponse(f"{redirect_uri}?{urlencode(answer)}", status_code=302)
