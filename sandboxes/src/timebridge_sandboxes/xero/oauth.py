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

    def bearer(self, authorization: str | None) -> _Access:
        scheme, _, token = (authorization or "").partition(" ")
        access = self.state.access_tokens.get(token) if scheme.lower() == "bearer" else None
        if access is None or access.expires_at <= self.state.now():
            raise ApiError(401, "AuthenticationUnsuccessful")
        return access


def _oauth_refusal(error: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status)


def _client_credentials(sandbox: Tokens, authorization: str | None) -> App | None:
    scheme, _, encoded = (authorization or "").partition(" ")
    try:
        client_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    app = sandbox.state.apps.get(client_id)
    if scheme.lower() != "basic" or app is None:
        return None
    return app if hmac.compare_digest(app.client_secret, secret) else None
