"""HTTP API of the credential owner.

Two principals: the services that register connections and call providers (one service token,
``TB_SERVICE_TOKEN``, compared in constant time) put, rotate and delete credentials and ask for
access; a Core admin of the workspace reads its connections' health and may delete one. Access is
for services only: no person reads a stored secret back, and the refresh token never leaves.
"""

import datetime as dt
import hmac
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, model_validator

from timebridge_common.api import Credential, WorkspaceIdPath
from timebridge_common.auth import Credentials, WorkspaceAdmins, bearer_token
from timebridge_common.http_errors import refusals
from timebridge_common.outbound.oauth import Tokens
from timebridge_credentials.domain.credentials import Kind, NewCredential, Secret, State, Status
from timebridge_credentials.handlers.owner import Consent, CredentialOwner

SERVICE_SCHEME = "ServiceToken"
_ID = r"^[A-Za-z0-9_.:-]{1,200}$"
ConnectionIdPath = Annotated[str, Path(pattern=_ID, description="Connection id")]
Token = Annotated[str, Field(min_length=1, max_length=8192, pattern=r"^[!-~]+$")]
_service_bearer = HTTPBearer(
    scheme_name=SERVICE_SCHEME,
    description="The platform services' token (TB_SERVICE_TOKEN)",
    auto_error=False,
)
ServiceCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_service_bearer)]
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApiKeyIn(_In):
    kind: Literal["api_key"]
    secret: Credential


class OAuthIn(_In):
    kind: Literal["oauth2"]
    access_token: Token
    refresh_token: Token
    expires_at: AwareDatetime | None = None
    expires_in: int | None = Field(default=None, ge=0, le=10 * 365 * 86400)

    @model_validator(mode="after")
    def _expiry(self) -> "OAuthIn":
        if (self.expires_at is None) == (self.expires_in is None):
            raise ValueError("give exactly one of expires_at and expires_in")
        return self


SecretIn = Annotated[ApiKeyIn | OAuthIn, Field(discriminator="kind")]
Extra = Annotated[dict[Annotated[str, Field(max_length=100)], Token], Field(max_length=20)]
Returned = Annotated[
    dict[Annotated[str, Field(max_length=100)], Annotated[str, Field(max_length=2000)]],
    Field(max_length=20),
]


class CredentialIn(_In):
    provider: str = Field(pattern=r"^[a-z0-9_-]{1,64}$", description="Registry name")
    credential: SecretIn
    base_url: str = Field(default="", max_length=2000)
    extra: Extra = Field(default_factory=dict, description="Account, tenant or realm ids")


class CodeIn(_In):
    provider: str = Field(pattern=r"^[a-z0-9_-]{1,64}$", description="Registry name")
    code: Token = Field(description="The authorization code the provider's redirect carried")
    redirect_uri: str = Field(min_length=1, max_length=2000, description="As sent to /authorize")
    base_url: str = Field(default="", max_length=2000)
    extra: Extra = Field(default_factory=dict, description="Account, tenant or realm ids")
    returned: Returned = Field(
        default_factory=dict,
        description="The callback's other parameters (a data centre the consent named)",
    )


class StateIn(_In):
    state: str = Field(min_length=16, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")
    redirect_uri: str | None = Field(
        default=None,
        max_length=2000,
        pattern=r"^https?://[^\s?#]+$",
        description="The caller's callback, used unless one is configured for the app",
    )


class AuthorizationOut(BaseModel):
    authorize_url: str = Field(description="The provider's consent page for Timebridge's app")
    redirect_uri: str = Field(description="Where the provider sends the code back")


class RotateIn(_In):
    credential: SecretIn
    extra: Extra | None = None


class MoveIn(_In):
    to: str = Field(pattern=_ID, description="The connection id to keep the credential under")


class RefusedIn(_In):
    reason: str = Field(
        min_length=1, max_length=500, description="What the provider answered (no secret)"
    )


class StatusOut(BaseModel):
    connection_id: str
    provider: str
    kind: Kind
    state: State
    revision: int
    updated_at: dt.datetime
    expires_at: dt.datetime | None
    last_refreshed_at: dt.datetime | None
    last_error: str | None
    last_error_at: dt.datetime | None


class AccessOut(BaseModel):
    credential: str = Field(description="The API key or a current OAuth access token")
    base_url: str
    extra: dict[str, str]
    expires_at: dt.datetime | None = Field(description="When an access token expires")


def _secret(given: ApiKeyIn | OAuthIn, now: dt.datetime) -> Secret | Tokens:
    if isinstance(given, ApiKeyIn):
        return Secret(given.secret)
    expires_at = given.expires_at or now + dt.timedelta(seconds=given.expires_in or 0)
    return Tokens(given.access_token, given.refresh_token, expires_at)


def _status_out(s: Status) -> StatusOut:
    return StatusOut(
        connection_id=s.connection_id, provider=s.provider, kind=s.kind, state=s.state,
        revision=s.revision, updated_at=s.updated_at, expires_at=s.expires_at,
        last_refreshed_at=s.last_refreshed_at, last_error=s.last_error,
        last_error_at=s.last_error_at,
    )  # fmt: skip


class Guards:
    """The two principals as FastAPI dependencies."""

    def __init__(self, service_token: SecretStr, admins: WorkspaceAdmins) -> None:
        self._token = service_token
        self._admins = admins

    def _is_service(self, token: str) -> bool:
        expected = self._token.get_secret_value()
        return bool(expected) and hmac.compare_digest(token.encode(), expected.encode())

    def service(self, credentials: ServiceCredentials) -> None:
        """``401`` unless the bearer token is the services' token."""
        if not self._is_service(bearer_token(credentials, "the service token")):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "service token required", _CHALLENGE)

    async def service_or_admin(
        self, workspace_id: WorkspaceIdPath, service: ServiceCredentials, admin: Credentials
    ) -> None:
        """The services' token, or a Core admin of this workspace."""
        token = bearer_token(service or admin, "a service token or a Core admin's token")
        if not self._is_service(token):
            await self._admins.authorize(workspace_id, token)


def credentials_router(owner: CredentialOwner, guards: Guards) -> APIRouter:
    router = APIRouter(prefix="/v1/workspaces/{workspace_id}/connections", tags=["credentials"])
    service = [Depends(guards.service)]
    either = [Depends(guards.service_or_admin)]

    @router.get(
        "/health",
        summary="Each connection's credential state: ok, needs re-authorisation, last error",
        dependencies=either,
        responses=refusals(401, 403, 404, 502),
    )
    async def health(workspace_id: WorkspaceIdPath) -> list[StatusOut]:
        return [_status_out(s) for s in await owner.health(workspace_id)]

    @router.put(
        "/{connection_id}",
        summary="Store or replace a connection's credential (services only)",
        dependencies=service,
        responses=refusals(401, 422),
    )
    async def put(
        workspace_id: WorkspaceIdPath, connection_id: ConnectionIdPath, body: CredentialIn
    ) -> StatusOut:
        secret = _secret(body.credential, dt.datetime.now(dt.UTC))
        new = NewCredential(
            workspace_id, connection_id, body.provider, secret, body.base_url, body.extra
        )
        return _status_out(await owner.put(new))

    @router.post(
        "/{connection_id}/authorization-code",
        summary="Exchange an OAuth consent's code and store the tokens (services only)",
        dependencies=service,
        responses=refusals(401, 422, 502, 503),
    )
    async def authorization_code(
        workspace_id: WorkspaceIdPath, connection_id: ConnectionIdPath, body: CodeIn
    ) -> StatusOut:
        consent = Consent(
            workspace_id, connection_id, body.provider, body.code, body.redirect_uri,
            body.base_url, body.extra, body.returned,
        )  # fmt: skip
        return _status_out(await owner.exchange(consent))

    @router.post(
        "/{connection_id}/rotate",
        summary="Replace the secret of a stored connection, keeping the rest (services only)",
        dependencies=service,
        responses=refusals(401, 404, 422),
    )
    async def rotate(
        workspace_id: WorkspaceIdPath, connection_id: ConnectionIdPath, body: RotateIn
    ) -> StatusOut:
        secret = _secret(body.credential, dt.datetime.now(dt.UTC))
        rotated = await owner.rotate(workspace_id, connection_id, secret, extra=body.extra)
        return _status_out(rotated)

    @router.post(
        "/{connection_id}/move",
        summary="Keep the credential under another connection id, replacing it (services only)",
        dependencies=service,
        responses=refusals(401, 404, 422),
    )
    async def move(
        workspace_id: WorkspaceIdPath, connection_id: ConnectionIdPath, body: MoveIn
    ) -> StatusOut:
        return _status_out(await owner.move(workspace_id, connection_id, body.to))

    @router.post(
        "/{connection_id}/refused",
        summary="Report that the provider refused the credential handed out (services only)",
        dependencies=service,
        responses=refusals(401, 404, 422),
    )
    async def refused(
        workspace_id: WorkspaceIdPath, connection_id: ConnectionIdPath, body: RefusedIn
    ) -> StatusOut:
        return _status_out(await owner.refused(workspace_id, connection_id, body.reason))

    @router.delete(
        "/{connection_id}",
        summary="Forget a connection's credential (services, or a Core admin)",
        dependencies=either,
        status_code=status.HTTP_204_NO_CONTENT,
        responses=refusals(401, 403, 404, 502),
    )
    async def delete(workspace_id: WorkspaceIdPath, connection_id: ConnectionIdPath) -> Response:
        await owner.delete(workspace_id, connection_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/{connection_id}/access",
        summary="What to call the provider with now; refreshes an OAuth token near expiry",
        dependencies=service,
        responses=refusals(401, 404, 409, 422, 502, 503),
    )
    async def access(
        workspace_id: WorkspaceIdPath, connection_id: ConnectionIdPath, response: Response
    ) -> AccessOut:
        granted = await owner.access(workspace_id, connection_id)
        response.headers["cache-control"] = "no-store"
        return AccessOut(
            credential=granted.credential,
            base_url=granted.base_url,
            extra=dict(granted.extra),
            expires_at=granted.expires_at,
        )

    return router


def oauth_apps_router(owner: CredentialOwner, guards: Guards) -> APIRouter:
    """The apps' consent pages: their client ids are this service's settings."""
    router = APIRouter(tags=["credentials"])

    @router.post(
        "/v1/oauth/{provider}/authorization",
        summary="Where to send a person to consent to Timebridge's app (services only)",
        dependencies=[Depends(guards.service)],
        responses=refusals(401, 422, 502),
    )
    async def authorization(
        provider: Annotated[str, Path(pattern=r"^[a-z0-9_-]{1,64}$")], body: StateIn
    ) -> AuthorizationOut:
        url, redirect_uri = owner.authorization(provider, body.state, body.redirect_uri)
        return AuthorizationOut(authorize_url=url, redirect_uri=redirect_uri)

    return router
