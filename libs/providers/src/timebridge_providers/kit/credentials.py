"""Credentials from their one owner: the port services call and its HTTP adapter.

The in-memory fake is :class:`~timebridge_providers.kit.fakes.credentials.FakeCredentialSource`.

Every provider credential (API key, personal access token, OAuth tokens) lives encrypted in the
credentials service, which refreshes OAuth tokens under a lock and saves a rotated refresh token
before handing out the new access token. Other services never hold a refresh token and never see
a credential on Kafka: they ask the owner for :class:`~timebridge_providers.kit.session.Access`
when they are about to call the provider (:class:`CredentialSource`).

A provider that signs in with OAuth describes it with
:class:`~timebridge_providers.kit.oauth.OAuthDescription` (:mod:`timebridge_providers.kit.oauth`,
its names importable from here too); the app's client id and secret are the credential owner's
configuration (:class:`~timebridge_providers.kit.oauth.OAuthApp`).
"""

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, Self

import httpx
from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator

from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.outbound.http import parse_retry_after
from timebridge_common.outbound.oauth import ReauthorizationNeededError, Tokens
from timebridge_providers.kit.oauth import (
    EndpointFactory,
    OAuthApp,
    OAuthDescription,
    basic_auth_endpoint,
    form_basic_auth,
    form_body_auth,
    oauth_of,
)
from timebridge_providers.kit.session import Access

__all__ = [  # the OAuth description lives in kit.oauth; its names stay importable from here
    "EndpointFactory", "OAuthApp", "OAuthDescription", "basic_auth_endpoint",
    "form_basic_auth", "form_body_auth", "oauth_of",
]  # fmt: skip

# -- Where the owner is: every service that calls a provider must be told -----------------------


class OwnerSettings(BaseModel):
    """The credentials service's address and the platform services' token, for the settings of
    every service that calls a provider (mixed into its ``Settings``). Both are required: there
    is no other source of a connection's secret, so a service without them refuses to start
    with this error rather than failing on its first provider call."""

    credentials_url: str = Field(
        default="",
        description="The credentials service (TB_CREDENTIALS_URL), the one owner of every"
        " connection's secret: required",
    )
    service_token: SecretStr = Field(
        default=SecretStr(""),
        description="The platform services' token (TB_SERVICE_TOKEN), shown to the credentials"
        " service: required",
    )

    @model_validator(mode="after")
    def _owner_configured(self) -> Self:
        missing = [
            name
            for name, value in (
                ("TB_CREDENTIALS_URL", self.credentials_url.strip()),
                ("TB_SERVICE_TOKEN", self.service_token.get_secret_value().strip()),
            )
            if not value
        ]
        if missing:
            raise ValueError(
                f"{' and '.join(missing)} must be set: the credentials service is the only"
                " source of the connections' keys and tokens (no service keeps a copy)"
            )
        return self

    def credential_source(self, http: httpx.AsyncClient) -> "HttpCredentialSource":
        """The owner at the configured address, over ``http``."""
        return HttpCredentialSource(self.credentials_url, self.service_token, http=http)


# -- The port --------------------------------------------------------------------------------------


class NeedsReauthorisationError(ReauthorizationNeededError):
    """The provider refused the refresh token: an admin must connect the account again."""


class UnknownCredentialError(InvalidMessageError):
    """The owner holds no credential for this workspace and connection."""


class CredentialSource(Protocol):
    """Where a service gets the access for one connection, right before calling the provider.

    Raises :class:`NeedsReauthorisationError`, :class:`UnknownCredentialError` or
    :class:`~timebridge_common.errors.TransientError` (the owner or the provider's token
    endpoint is unavailable; retry later).
    """

    async def access(self, workspace_id: str, connection_id: str) -> Access: ...

    async def refused(self, workspace_id: str, connection_id: str, reason: str) -> None:
        """Report that the provider refused the access handed out (its 401), so health shows
        it: a key then needs re-authorisation, an OAuth token is refreshed on the next access.
        ``reason`` is shown to admins: the provider's answer, never a secret."""
        ...


class CredentialKeeper(CredentialSource, Protocol):
    """A :class:`CredentialSource` that also stores what a service obtained for a connection
    (the tokens of an OAuth consent it ran), so that the owner keeps them from then on.

    Raises :class:`~timebridge_common.errors.TransientError` when the owner is unavailable.
    """

    async def put_tokens(
        self,
        workspace_id: str,
        connection_id: str,
        provider: str,
        tokens: Tokens,
        *,
        base_url: str = "",
        extra: Mapping[str, str] | None = None,
    ) -> None:
        """Hand a fresh consent's tokens to the owner (replacing what it held)."""
        ...

    async def put_key(
        self,
        workspace_id: str,
        connection_id: str,
        provider: str,
        key: str,
        *,
        base_url: str = "",
        extra: Mapping[str, str] | None = None,
    ) -> None:
        """Hand an API key (a personal access token) an admin entered to the owner (replacing
        what it held): from then on it is handed out by :meth:`access` only."""
        ...

    async def move(self, workspace_id: str, connection_id: str, to: str) -> None:
        """Keep the credential of ``connection_id`` under ``to`` instead (replacing it there)."""
        ...

    async def delete(self, workspace_id: str, connection_id: str) -> None:
        """Forget the connection's credential; nothing held is not an error."""
        ...


class Authorization(BaseModel):
    """Where a person consents, and the redirect URI the code will be issued for."""

    authorize_url: str
    redirect_uri: str


class _Answer(BaseModel):
    credential: str
    extra: dict[str, str] = {}
    base_url: str = ""
    expires_at: dt.datetime | None = None


@dataclass(slots=True)
class _Cached:
    access: Access
    until: dt.datetime


class HttpCredentialSource:
    """:class:`CredentialSource` over the credentials service's HTTP API, with a short cache.

    An access token is reused until shortly before it expires; an API key for ``key_ttl`` only,
    so a rotated or deleted key stops being used soon. :meth:`forget` drops a cached access the
    provider refused (then the next call asks the owner again).
    """

    def __init__(
        self,
        base_url: str,
        service_token: SecretStr,
        *,
        http: httpx.AsyncClient | None = None,
        key_ttl: dt.timedelta = dt.timedelta(seconds=60),
        margin: dt.timedelta = dt.timedelta(seconds=60),
        timeout_s: float = 10.0,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = service_token
        self._http = http or httpx.AsyncClient()
        self._key_ttl = key_ttl
        self._margin = margin
        self._timeout = timeout_s
        self._clock = clock
        self._cache: dict[tuple[str, str], _Cached] = {}

    def forget(self, workspace_id: str, connection_id: str) -> None:
        self._cache.pop((workspace_id, connection_id), None)

    async def access(self, workspace_id: str, connection_id: str) -> Access:
        key = (workspace_id, connection_id)
        cached = self._cache.get(key)
        if cached is not None and cached.until > self._clock():
            return cached.access
        answer = await self._ask(workspace_id, connection_id)
        access = Access(answer.base_url, answer.credential, answer.extra)
        now = self._clock()
        until = now + self._key_ttl
        if answer.expires_at is not None:
            until = min(until, answer.expires_at - self._margin)
        self._cache[key] = _Cached(access, until)
        return access

    async def refused(self, workspace_id: str, connection_id: str, reason: str) -> None:
        self.forget(workspace_id, connection_id)
        url = f"{self._connection_url(workspace_id, connection_id)}/refused"
        what = f"reporting the refused credential of {workspace_id}/{connection_id}"
        started = self._clock()
        try:
            response = await self._http.post(
                url, json={"reason": reason[:500]}, headers=self._headers(), timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            raise TransientError(f"{what}: credentials service unreachable ({exc!r})") from exc
        if response.status_code == 404:
            raise UnknownCredentialError(f"{what}: {_detail(response)}")
        if response.status_code != 200:
            wait = parse_retry_after(response.headers.get("retry-after"), started)
            raise TransientError(
                f"{what}: credentials service answered {response.status_code}", retry_after=wait
            )

    async def put_tokens(
        self,
        workspace_id: str,
        connection_id: str,
        provider: str,
        tokens: Tokens,
        *,
        base_url: str = "",
        extra: Mapping[str, str] | None = None,
    ) -> None:
        credential = {
            "kind": "oauth2",
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at.isoformat(),
        }
        await self._put(
            workspace_id, connection_id, provider, credential, base_url=base_url, extra=extra
        )

    async def put_key(
        self,
        workspace_id: str,
        connection_id: str,
        provider: str,
        key: str,
        *,
        base_url: str = "",
        extra: Mapping[str, str] | None = None,
    ) -> None:
        credential = {"kind": "api_key", "secret": key}
        await self._put(
            workspace_id, connection_id, provider, credential, base_url=base_url, extra=extra
        )

    async def _put(
        self,
        workspace_id: str,
        connection_id: str,
        provider: str,
        credential: Mapping[str, str],
        *,
        base_url: str,
        extra: Mapping[str, str] | None,
    ) -> None:
        """Replace what the owner holds for the connection (a key or a consent's tokens)."""
        self.forget(workspace_id, connection_id)
        body = {
            "provider": provider,
            "base_url": base_url,
            "extra": dict(extra or {}),
            "credential": dict(credential),
        }
        what = f"storing the {credential['kind']} credential of {workspace_id}/{connection_id}"
        await self._send("PUT", self._connection_url(workspace_id, connection_id), what, body)

    async def move(self, workspace_id: str, connection_id: str, to: str) -> None:
        self.forget(workspace_id, connection_id)
        self.forget(workspace_id, to)
        url = f"{self._connection_url(workspace_id, connection_id)}/move"
        what = f"moving the credential of {workspace_id}/{connection_id} to {to}"
        await self._send("POST", url, what, {"to": to})

    async def delete(self, workspace_id: str, connection_id: str) -> None:
        self.forget(workspace_id, connection_id)
        what = f"deleting the credential of {workspace_id}/{connection_id}"
        url = self._connection_url(workspace_id, connection_id)
        await self._send("DELETE", url, what, None, missing_ok=True)

    async def _send(
        self,
        method: str,
        url: str,
        what: str,
        body: object,
        *,
        missing_ok: bool = False,
    ) -> bytes:
        started = self._clock()
        try:
            response = await self._http.request(
                method, url, json=body, headers=self._headers(), timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            raise TransientError(f"{what}: credentials service unreachable ({exc!r})") from exc
        status = response.status_code
        if status < 300 or (missing_ok and status == 404):
            return response.content
        if status == 404:
            raise UnknownCredentialError(f"{what}: {_detail(response)}")
        if status in (400, 409, 422):
            raise InvalidMessageError(f"{what}: the owner refused ({_detail(response)})")
        wait = parse_retry_after(response.headers.get("retry-after"), started)
        raise TransientError(f"{what}: credentials service answered {status}", retry_after=wait)

    async def authorization(
        self, provider: str, state: str, redirect_uri: str | None = None
    ) -> "Authorization":
        """Where to send a person to consent to Timebridge's app at ``provider`` (the owner
        knows the app's client id), carrying ``state``; ``redirect_uri``: the caller's callback,
        unless the owner is configured with the one registered at the provider."""
        url = f"{self._base_url}/v1/oauth/{provider}/authorization"
        what = f"starting {provider}'s consent"
        body = {"state": state, "redirect_uri": redirect_uri}
        answer = await self._send("POST", url, what, body)
        try:
            return Authorization.model_validate_json(answer)
        except ValidationError as exc:
            raise TransientError(f"{what}: unexpected answer from the owner") from exc

    async def exchange_code(
        self,
        workspace_id: str,
        connection_id: str,
        provider: str,
        code: str,
        redirect_uri: str,
        *,
        base_url: str = "",
        extra: Mapping[str, str] | None = None,
        returned: Mapping[str, str] | None = None,
    ) -> None:
        """Have the owner exchange a consent's code and keep the tokens (they never come here);
        ``returned``: the callback's other parameters (a data centre the consent named)."""
        self.forget(workspace_id, connection_id)
        url = f"{self._connection_url(workspace_id, connection_id)}/authorization-code"
        body = {
            "provider": provider, "code": code, "redirect_uri": redirect_uri,
            "base_url": base_url, "extra": dict(extra or {}), "returned": dict(returned or {}),
        }  # fmt: skip
        await self._send("POST", url, f"exchanging {provider}'s code", body)

    def _connection_url(self, workspace_id: str, connection_id: str) -> str:
        return f"{self._base_url}/v1/workspaces/{workspace_id}/connections/{connection_id}"

    def _headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._token.get_secret_value()}"}

    async def _ask(self, workspace_id: str, connection_id: str) -> _Answer:
        url = f"{self._connection_url(workspace_id, connection_id)}/access"
        started = self._clock()
        what = f"the credential of {workspace_id}/{connection_id}"
        try:
            response = await self._http.post(url, headers=self._headers(), timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise TransientError(f"{what}: credentials service unreachable ({exc!r})") from exc
        status = response.status_code
        if status == 200:
            try:
                return _Answer.model_validate_json(response.content)
            except ValidationError as exc:
                raise TransientError(f"{what}: unexpected answer from the owner") from exc
        reason = _detail(response)
        if status == 409:
            raise NeedsReauthorisationError(f"{what}: {reason}")
        if status == 404:
            raise UnknownCredentialError(f"{what}: {reason}")
        wait = parse_retry_after(response.headers.get("retry-after"), started)
        raise TransientError(f"{what}: credentials service answered {status}", retry_after=wait)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, str) else f"HTTP {response.status_code}"
