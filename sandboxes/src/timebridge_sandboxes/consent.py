"""A provider's OAuth 2.0 consent, as every sandbox whose provider signs in with OAuth plays it
(RFC 6749 4.1, the authorization code grant): one consent page, the codes it issues, the app's
client authentication and the tokens issued for a code, shared by QuickBooks Time, Xero
Projects, Zoho Projects, Wrike and Hubstaff. What differs per provider (the page's path, the
parameters it requires, the token endpoint's form, answer and error bodies) stays in each
sandbox's own token endpoint, built on :class:`Consents`.

The page (``GET``): the signed-in person (the sandbox's first user, its admin) is asked to allow
the app; an unknown ``client_id`` or a ``redirect_uri`` that is not http(s) is a ``400`` page
(nothing is sent to an address not vouched for); a missing required parameter or another
``response_type`` goes back to ``redirect_uri`` with RFC 6749's error. The decision (``POST``
to the same path): back to ``redirect_uri`` with ``code`` and ``state``, or
``error=access_denied``. A code is for its ``redirect_uri`` only, lives ten minutes and is spent
by its first exchange, whatever the outcome.
"""

import base64
import binascii
import datetime as dt
import hmac
import html
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

Person = int | str
CODE_TTL = dt.timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Code:
    person: Person
    redirect_uri: str
    scope: str
    nonce: str
    expires_at: dt.datetime
    params: dict[str, str] = field(default_factory=dict)
    """Further consent parameters the provider keeps with the code (Zoho's ``access_type``)."""


@dataclass
class Consents:
    """The sandbox's one registered app, the codes its consent page issued and the tokens its
    token endpoint issued for them (access tokens by person; refresh tokens used once)."""

    client_id: str
    client_secret: str
    codes: dict[str, Code] = field(default_factory=dict)
    access: dict[str, Person] = field(default_factory=dict)
    refresh: dict[str, Person] = field(default_factory=dict)

    def issue(
        self,
        person: Person,
        redirect_uri: str,
        scope: str = "",
        nonce: str = "",
        params: dict[str, str] | None = None,
    ) -> str:
        code = secrets.token_urlsafe(18)
        expires = dt.datetime.now(dt.UTC) + CODE_TTL
        self.codes[code] = Code(person, redirect_uri, scope, nonce, expires, params or {})
        return code

    def spend(self, code: str, redirect_uri: str | None) -> Code | None:
        """The code's grant, once, in time, for the redirect URI it was issued for."""
        found = self.codes.pop(code, None)
        if found is None or found.expires_at <= dt.datetime.now(dt.UTC):
            return None
        return found if found.redirect_uri == redirect_uri else None

    def client_ok(self, client_id: str | None, client_secret: str | None) -> bool:
        if client_id != self.client_id or client_secret is None:
            return False
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def mint(self, person: Person, prefix: str = "") -> tuple[str, str]:
        """A new access token and refresh token for ``person``."""
        access, fresh = prefix + secrets.token_hex(16), prefix + secrets.token_hex(16)
        self.access[access] = person
        self.refresh[fresh] = person
        return access, fresh

    def rotate(self, refresh_token: str) -> Person | None:
        """The person of a live refresh token, which stops working (a rotating provider)."""
        return self.refresh.pop(refresh_token, None)


async def read_form(request: Request) -> dict[str, str] | None:
    """A form body (``None``: not UTF-8); the query's parameters count too, as several token
    endpoints accept them there."""
    try:
        form = dict(parse_qsl((await request.body()).decode()))
    except UnicodeDecodeError:
        return None
    return {**dict(request.query_params), **form}


def basic_client(request: Request) -> tuple[str, str] | None:
    """The app's id and secret as HTTP Basic (``None``: not given or not readable)."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    return (client_id, secret) if colon else None


@dataclass(frozen=True, slots=True)
class ConsentPage:
    """One provider's consent page: its title, path, the sandbox's app and signed-in person,
    the consent parameters the provider refuses to go without (``nonce``, ``scope``) and the
    further ones it keeps with the code (``carries``)."""

    title: str
    path: str
    consents: Callable[[Request], Consents]
    person: Callable[[Request], tuple[Person, str] | None]
    requires: tuple[str, ...] = ()
    carries: tuple[str, ...] = ()
    returns: Callable[[Request], dict[str, str]] | None = None
    """Further parameters the provider adds to the redirect with the code (Zoho's data
    centre: ``location``, ``accounts-server``)."""


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{title}: allow access</title></head><body><main>
<h1>Allow access to {title}?</h1>
<p>The app <strong>{client}</strong> asks to read and change your time data, as
<strong>{user}</strong>{scope}.</p>
<form method="post" action="{path}">{hidden}
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form></main></body></html>"""
_CARRIED = ("client_id", "redirect_uri", "state", "scope", "nonce")
_ASKED = ("response_type", *_CARRIED)


def _refused(message: str) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><p>{html.escape(message)}</p>", status_code=400)


def _back(redirect_uri: str, answer: dict[str, str]) -> RedirectResponse:
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode(answer)}", status_code=302)


def _vouched(consents: Consents, client_id: str, redirect_uri: str) -> bool:
    return client_id == consents.client_id and redirect_uri.startswith(("http://", "https://"))


def consent_router(page: ConsentPage) -> APIRouter:
    """The page (``GET page.path``) and the person's decision (``POST page.path``)."""
    router = APIRouter()

    @router.get(page.path, response_model=None)
    async def ask(request: Request) -> Response:
        query = {name: request.query_params.get(name, "") for name in _ASKED + page.carries}
        if any(len(value) > 2000 for value in query.values()):
            return _refused("a parameter is too long")
        client_id, redirect_uri, state = query["client_id"], query["redirect_uri"], query["state"]
        if not _vouched(page.consents(request), client_id, redirect_uri):
            return _refused("unknown client_id or redirect_uri")
        missing = [name for name in page.requires if not query.get(name)]
        if query["response_type"] != "code" or missing:
            wrong = query["response_type"] != "code"
            error = "unsupported_response_type" if wrong else "invalid_request"
            return _back(redirect_uri, {"error": error, "state": state})
        person = page.person(request)
        if person is None:
            return _refused("no one is signed in to this account")
        hidden = "".join(
            f'\n<input type="hidden" name="{name}" value="{html.escape(query[name])}">'
            for name in _CARRIED + page.carries
        )
        scope = query["scope"]
        shown = f", for {html.escape(scope)}" if scope else ""
        page_html = _PAGE.format(
            title=html.escape(page.title), client=html.escape(client_id),
            user=html.escape(person[1]), scope=shown, path=page.path, hidden=hidden,
        )  # fmt: skip
        return HTMLResponse(page_html)

    @router.post(page.path, response_model=None)
    async def decide(request: Request) -> Response:
        form = await read_form(request)
        if form is None:
            return _refused("the form is not UTF-8")
        consents = page.consents(request)
        redirect_uri, state = form.get("redirect_uri", ""), form.get("state", "")
        if not _vouched(consents, form.get("client_id", ""), redirect_uri):
            return _refused("unknown client_id or redirect_uri")
        person = page.person(request)
        if form.get("decision") != "allow" or person is None:
            return _back(redirect_uri, {"error": "access_denied", "state": state})
        kept = {name: form.get(name, "") for name in page.carries}
        code = consents.issue(
            person[0], redirect_uri, form.get("scope", ""), form.get("nonce", ""), kept
        )
        more = page.returns(request) if page.returns is not None else {}
        return _back(redirect_uri, {"code": code, "state": state, **more})

    return router
