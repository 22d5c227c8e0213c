"""OAuth2 as Xero's identity server plays it: codes, rotating refresh tokens, client auth."""

import base64
import binascii
import hmac
import secrets

from fastapi.responses import JSONResponse

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.xero.state import (
    ACCESS_TOKEN_TTL,
    REFRESH_GRACE,
    REFRESH_TOKEN_TTL,
    App,
    Json,
    XeroState,
    _Access,
    _Refresh,
)


class Tokens:
    """Xero's identity server: codes, rotating refresh tokens, bearer tokens."""

    state: XeroState

    def issue_tokens(self, client_id: str, scopes: list[str], auth_event_id: str) -> Json:
        now = self.state.now()
        access = secrets.token_urlsafe(32)
        self.state.access_tokens[access] = _Access(
            client_id, scopes, auth_event_id, now + ACCESS_TOKEN_TTL
        )
        answer: Json = {
            "access_token": access,
            "expires_in": int(ACCESS_TOKEN_TTL.total_seconds()),
            "token_type": "Bearer",
            "scope": " ".join(scopes),
        }
        if "offline_access" in scopes:
            refresh = secrets.token_urlsafe(32)
            self.state.refresh_tokens[refresh] = _Refresh(
                client_id, scopes, auth_event_id, now + REFRESH_TOKEN_TTL
            )
            answer["refresh_token"] = refresh
        return answer

    def exchange_code(self, app: App, given: str, redirect_uri: str | None) -> Json | None:
        """The tokens for a code used once, in time, by its client and redirect URI."""
        code = self.state.codes.get(given)
        if (
            code is None
            or code.used
            or code.expires_at <= self.state.now()
            or code.client_id != app.client_id
            or code.redirect_uri != redirect_uri
        ):
            return None
        code.used = True
        return self.issue_tokens(app.client_id, code.scopes, code.auth_event_id)

    def refresh(self, app: App, given: str) -> Json | None:
        """New tokens for a refresh token used once; the same again within the grace period."""
        now = self.state.now()
        refresh = self.state.refresh_tokens.get(given)
        if refresh is None or refresh.client_id != app.client_id or refresh.expires_at <= now:
            return None
        if refresh.used_at is None:
            refresh.used_at = now
            refresh.answer = self.issue_tokens(app.client_id, refresh.scopes, refresh.auth_event_id)
        elif now - refresh.used_at > REFRESH_GRACE:
            return None
        return refresh.answer

    def revoke(self, app: App, given: str) -> None:
        """Forget the refresh token and what its authorisation granted; an unknown token is
        not an error (RFC 7009)."""
        refresh = self.state.refresh_tokens.get(given)
        if refresh is None or refresh.client_id != app.client_id:
            return
        event = refresh.auth_event_id
        for name, known in list(self.state.refresh_tokens.items()):
            if known.auth_event_id == event:
                del self.state.refresh_tokens[name]
        for name, access in list(self.state.access_tokens.items()):
            if access.auth_event_id == event:
                del self.state.access_tokens[name]
        for key, connection in list(self.state.connections.items()):
            if connection.auth_event_id == event and connection.client_id == app.client_id:
                del self.state.connections[key]

    def bearer(self, authorization: str | None) -> _Access:
        scheme, _, token = (authorization or "").partition(" ")
        access = self.state.access_tokens.get(token) if scheme.lower() == "bearer" else None
        if access is None or access.expires_at <= self.state.now():
            raise ApiError(401, "AuthenticationUnsuccessful")
        return access


def _oauth_refusal(error: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status)


def _client_credentials(
    sandbox: Tokens, authorization: str | None, form: dict[str, str]
) -> App | None:
    """The app authenticated by Basic auth (Xero's documented way) or by ``client_id`` and
    ``client_secret`` in the form body (how xero-python refreshes); both given must agree."""
    given: list[tuple[str, str]] = []
    if authorization is not None:
        scheme, _, encoded = authorization.partition(" ")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        if scheme.lower() != "basic" or ":" not in decoded:
            return None
        client_id, _, secret = decoded.partition(":")
        given.append((client_id, secret))
    if "client_id" in form or "client_secret" in form:
        given.append((form.get("client_id", ""), form.get("client_secret", "")))
    if not given or len(set(given)) != 1:
        return None
    client_id, secret = given[0]
    app = sandbox.state.apps.get(client_id)
    if app is None or not hmac.compare_digest(app.client_secret.encode(), secret.encode()):
        return None
    return app
