"""Zoho's OAuth 2.0 token endpoint (``accounts.zoho.com/oauth/v2/token``) for the credential owner.

V (Zoho's OAuth documentation): the client id and secret travel in the form body; an access token
lives one hour; a refresh token does **not** rotate (the refresh answer carries none, so the one
held is kept); a refused code or refresh token is answered ``200`` with ``{"error":
"invalid_code"}``; the account's data centre answers on its own host (``accounts.zoho.eu``, ...),
given as the app's token URL. The kit's RFC 6749 endpoint expects Basic authentication and a
refresh token in every answer, so Zoho has its own.
"""

import datetime as dt
from collections.abc import Callable

import httpx

from timebridge_common.errors import TransientError
from timebridge_common.outbound.http import AuthenticationError, ProviderError
from timebridge_common.outbound.oauth import ReauthorizationNeededError, Tokens
from timebridge_providers.kit.credentials import OAuthApp

REFUSED = frozenset({"invalid_code", "invalid_grant", "invalid_token"})


class ZohoTokens:
    """Zoho's token endpoint: one attempt per call (the caller schedules retries)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        token_url: str,
        http: httpx.AsyncClient,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._app = {"client_id": client_id, "client_secret": client_secret}
        self._url = token_url
        self._http = http
        self._clock = clock

    async def exchange_code(self, code: str, redirect_uri: str) -> Tokens:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return await self._grant(form, None)

    async def refresh(self, refresh_token: str) -> Tokens:
        """A new access token; the refresh token stays the same (Zoho's do not rotate)."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return await self._grant(form, refresh_token)

    async def _grant(self, form: dict[str, str], held: str | None) -> Tokens:
        started = self._clock()
        try:
            response = await self._http.post(self._url, data={**form, **self._app})
        except httpx.HTTPError as exc:
            raise TransientError(f"zoho token endpoint failed ({type(exc).__name__})") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(f"zoho token endpoint answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        path = response.request.url.path
        if error in REFUSED:
            raise ReauthorizationNeededError(
                f"zoho refused the {form['grant_type']}: connect again"
            )
        if error == "invalid_client" or response.status_code == 401:
            raise AuthenticationError("zoho", "POST", path, response.status_code, str(error))
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise ProviderError("zoho", "POST", path, response.status_code, "unexpected answer")
        refresh = body.get("refresh_token") or held
        if not isinstance(refresh, str):
            raise ProviderError("zoho", "POST", path, response.status_code, "no refresh token")
        expires = body.get("expires_in")
        seconds = expires if isinstance(expires, int) else 3600
        return Tokens(body["access_token"], refresh, started + dt.timedelta(seconds=seconds))


def zoho_tokens(
    provider: str,  # noqa: ARG001 - the factory's signature
    app: OAuthApp,
    token_url: str,
    http: httpx.AsyncClient,
) -> ZohoTokens:
    return ZohoTokens(app.client_id, app.client_secret.get_secret_value(), token_url, http)
