"""HTTP API for connections: the guide's Settings > Integrations > <tracker>, as an API."""

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal, TypeVar

import httpx
from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from timebridge_common.api import Credential, WorkspaceIdPath
from timebridge_common.auth import PlatformAdmin, WorkspaceAdmins
from timebridge_common.events import IntegrationSettings
from timebridge_common.http_errors import refusals
from timebridge_common.outbound.oauth import Tokens
from timebridge_ingest.config import Settings
from timebridge_ingest.domain.connections import Integration
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.handlers.connections import Connections, TestErrorKind, TestResult
from timebridge_ingest.handlers.health import IntegrationHealth
from timebridge_ingest.handlers.rekey import replace_credentials

T = TypeVar("T")


_HOST = re.compile(r"[A-Za-z0-9.-]+|[0-9a-fA-F:.]+")


def _http_url(value: str) -> str:
    """An absolute http(s) URL with a host, as given (a trailing path is Core's API root)."""
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, ValueError) as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if url.scheme not in ("http", "https") or not _HOST.fullmatch(url.host) or url.query:
        raise ValueError("an absolute http(s) URL with a host name, without a query")
    return value


class WorkspaceBody(BaseModel):
    core_base_url: Annotated[str, AfterValidator(_http_url)] = Field(
        max_length=2048, description="Core REST API base URL, e.g. https://core.example/api/v1"
    )
    core_api_token: Credential = Field(
        min_length=8, description="Core service token for this workspace"
    )


class WorkspaceView(BaseModel):
    workspace_id: str
    core_base_url: str
    revision: int


ConnectionFields = Annotated[
    dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=200)]],
    Field(
        max_length=16,
        description="The provider's connection fields besides the key (its profile's"
        " connection_fields, e.g. an account id): required where the provider names them",
    ),
]


class TestBody(BaseModel):
    api_key: Credential
    fields: ConnectionFields = {}


class TestView(BaseModel):
    ok: bool
    account: dict[str, str] = {}
    error_kind: TestErrorKind | None = None
    message: str | None = None
    retry_after_s: float | None = None

    @classmethod
    def of(cls, result: TestResult) -> "TestView":
        return cls(
            ok=result.ok,
            account=result.account,
            error_kind=result.error_kind,
            message=result.message,
            retry_after_s=result.retry_after_s,
        )


class OAuthBody(BaseModel):
    """The rest of an OAuth tracker's consent (``api_key`` is its current access token)."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: Credential
    expires_in: int = Field(ge=0, le=10 * 365 * 86400, description="Seconds the access token lives")


def _tokens(access_token: str, oauth: OAuthBody | None, now: dt.datetime) -> Tokens | None:
    """An OAuth tracker's consent as the owner keeps it (``None``: a key, not OAuth)."""
    if oauth is None:
        return None
    expires_at = now + dt.timedelta(seconds=oauth.expires_in)
    return Tokens(access_token, oauth.refresh_token, expires_at)


class ConnectBody(BaseModel):
    provider: str | None = Field(
        default=None, description="The tracker's registry name (default: TB_DEFAULT_TRACKER)"
    )
    api_key: Credential = Field(
        description="The API key or personal access token (an OAuth tracker: its access token)"
    )
    oauth: OAuthBody | None = Field(
        default=None,
        description="An OAuth tracker's refresh token and expiry: handed to the credential"
        " owner, which refreshes and rotates them",
    )
    fields: ConnectionFields = {}
    settings: IntegrationSettings = IntegrationSettings()

    def tokens(self, now: dt.datetime) -> Tokens | None:
        return _tokens(self.api_key, self.oauth, now)


class CredentialsBody(BaseModel):
    """A connection's new key (an OAuth tracker: its new access token and ``oauth``)."""

    api_key: Credential = Field(
        description="The new API key or personal access token (an OAuth tracker: access token)"
    )
    oauth: OAuthBody | None = Field(
        default=None, description="An OAuth tracker's new refresh token and expiry"
    )

    def tokens(self, now: dt.datetime) -> Tokens | None:
        return _tokens(self.api_key, self.oauth, now)


class SettingsBody(BaseModel):
    settings: IntegrationSettings


class IntegrationView(BaseModel):
    integration_id: str
    workspace_id: str
    provider: str
    status: str
    settings: IntegrationSettings
    account: dict[str, str]
    fields: dict[str, str]
    webhook_registered: bool
    revision: int

    @classmethod
    def of(cls, integration: Integration) -> "IntegrationView":
        return cls(
            integration_id=integration.integration_id,
            workspace_id=integration.workspace_id,
            provider=integration.provider,
            status=integration.status,
            settings=integration.settings,
            account=integration.account,
            fields=integration.extra,
            webhook_registered=integration.hook_id is not None,
            revision=integration.revision,
        )


class HealthView(BaseModel):
    """Sync health of one integration: its polls, its webhook and what waits to be re-read."""

    status: Literal["ok", "failing", "needs_reauthorisation", "not_polled_yet", "not_polled"]
    last_polled_at: dt.datetime | None = None
    last_ok_at: dt.datetime | None = None
    next_poll_at: dt.datetime | None = None
    last_error: str | None = None
    error_kind: str | None = None
    consecutive_failures: int = 0
    webhook_registered: bool = False
    webhook_note: str | None = None
    webhook_note_at: dt.datetime | None = None
    deliveries_waiting: int = 0
    delivery_error: str | None = None

    @classmethod
    def of(cls, health: IntegrationHealth) -> "HealthView":
        poll = health.poll
        return cls(
            status="not_polled" if poll is None else poll.status,
            last_polled_at=poll and poll.last_polled_at,
            last_ok_at=poll and poll.last_ok_at,
            next_poll_at=poll and poll.next_poll_at,
            last_error=poll and poll.last_error,
            error_kind=poll and poll.error_kind,
            consecutive_failures=poll.failures if poll else 0,
            webhook_registered=health.integration.hook_id is not None,
            webhook_note=poll and poll.hook_note,
            webhook_note_at=poll and poll.hook_note_at,
            deliveries_waiting=health.waiting,
            delivery_error=health.delivery_error,
        )


def connections_router(
    settings: Settings,
    connections: Connections,
    admins: WorkspaceAdmins,
    health: Callable[[Integration], Awaitable[IntegrationHealth]],
) -> APIRouter:
    router = APIRouter()
    platform_admin = PlatformAdmin(settings.admin_token)
    admin = [Depends(admins.require)]
    refused = refusals(404, 409, 422, 502, 503, 504)  # the use cases' refusals, with the reason

    @router.put(
        "/v1/admin/workspaces/{workspace_id}",
        tags=["admin"],
        summary="Register a workspace's Core (checked against Core before saving)",
        dependencies=[Depends(platform_admin.require)],
        responses=refusals(422, 502, 503),
    )
    async def register_workspace(
        workspace_id: WorkspaceIdPath, body: WorkspaceBody
    ) -> WorkspaceView:
        workspace = await _answer(
            connections.register_workspace(workspace_id, body.core_base_url, body.core_api_token)
        )
        return WorkspaceView(
            workspace_id=workspace.workspace_id,
            core_base_url=workspace.core_base_url,
            revision=workspace.revision,
        )

    @router.post(
        "/v1/workspaces/{workspace_id}/integrations/{provider}/test",
        tags=["integrations"],
        summary="Test Connection: one real call to the tracker with this API key",
        dependencies=admin,
        responses=refused,
    )
    async def test_connection(provider: str, body: TestBody) -> TestView:
        return TestView.of(await _answer(connections.test(provider, body.api_key, body.fields)))

    @router.post(
        "/v1/workspaces/{workspace_id}/integrations/{integration_id}/retest",
        tags=["integrations"],
        summary="Test a saved connection again with its stored key (nothing to paste)",
        dependencies=admin,
        responses=refused,
    )
    async def retest_connection(workspace_id: WorkspaceIdPath, integration_id: str) -> TestView:
        return TestView.of(await _answer(connections.retest(workspace_id, integration_id)))

    @router.get(
        "/v1/workspaces/{workspace_id}/integrations/{integration_id}/health",
        tags=["integrations"],
        summary="Sync health: poll outcomes (a refused key included), webhook, waiting records",
        dependencies=admin,
        responses=refused,
    )
    async def integration_health(workspace_id: WorkspaceIdPath, integration_id: str) -> HealthView:
        integration = await _answer(connections.get(workspace_id, integration_id))
        return HealthView.of(await health(integration))

    @router.post(
        "/v1/workspaces/{workspace_id}/integrations",
        tags=["integrations"],
        status_code=status.HTTP_201_CREATED,
        summary="Connect (tests the key again, hands it to the credential owner, registers the"
        " webhook)",
        dependencies=admin,
        responses=refused,
    )
    async def connect(workspace_id: WorkspaceIdPath, body: ConnectBody) -> IntegrationView:
        integration = await _answer(
            connections.connect(
                workspace_id,
                body.provider or settings.default_tracker,
                body.api_key,
                body.settings,
                body.fields,
                oauth=body.tokens(dt.datetime.now(dt.UTC)),
            )
        )
        return IntegrationView.of(integration)

    @router.get(
        "/v1/workspaces/{workspace_id}/integrations", tags=["integrations"], dependencies=admin
    )
    async def list_integrations(workspace_id: WorkspaceIdPath) -> list[IntegrationView]:
        return [IntegrationView.of(i) for i in await connections.list(workspace_id)]

    @router.get(
        "/v1/workspaces/{workspace_id}/integrations/{integration_id}",
        tags=["integrations"],
        dependencies=admin,
        responses=refused,
    )
    async def get_integration(
        workspace_id: WorkspaceIdPath, integration_id: str
    ) -> IntegrationView:
        return IntegrationView.of(await _answer(connections.get(workspace_id, integration_id)))

    @router.patch(
        "/v1/workspaces/{workspace_id}/integrations/{integration_id}",
        tags=["integrations"],
        summary="Change direction, frequency, unmapped-user or conflict policy",
        dependencies=admin,
        responses=refused,
    )
    async def update_settings(
        workspace_id: WorkspaceIdPath, integration_id: str, body: SettingsBody
    ) -> IntegrationView:
        integration = await _answer(
            connections.update_settings(workspace_id, integration_id, body.settings)
        )
        return IntegrationView.of(integration)

    @router.put(
        "/v1/workspaces/{workspace_id}/integrations/{integration_id}/credentials",
        tags=["integrations"],
        summary="Replace the connection's key or OAuth tokens, keeping the integration",
        description="Re-connect without losing the integration, its settings and mappings:"
        " the new key is tested against the provider first, then handed to the credential"
        " owner (which replaces what it held), then the integration is saved again with who"
        " the key acts as. 409: disconnected (connect it again); 422 with the reason: the"
        " provider or the owner refused it (nothing changed); 503: the owner is unavailable"
        " (retry); 504: the provider did not answer in time.",
        dependencies=admin,
        responses=refused,
    )
    async def replace_key(
        workspace_id: WorkspaceIdPath, integration_id: str, body: CredentialsBody
    ) -> IntegrationView:
        tokens = body.tokens(dt.datetime.now(dt.UTC))
        replaced = replace_credentials(
            connections, workspace_id, integration_id, body.api_key, oauth=tokens
        )
        return IntegrationView.of(await _answer(replaced))

    @router.delete(
        "/v1/workspaces/{workspace_id}/integrations/{integration_id}",
        tags=["integrations"],
        summary="Disconnect: remove the webhook, wipe the key",
        dependencies=admin,
        responses=refused,
    )
    async def disconnect(workspace_id: WorkspaceIdPath, integration_id: str) -> IntegrationView:
        return IntegrationView.of(
            await _answer(connections.disconnect(workspace_id, integration_id))
        )

    return router


async def _answer(call: Awaitable[T]) -> T:
    """Await a use case, turning its refusals into HTTP answers with the reason."""
    try:
        return await call
    except RejectedError as exc:
        raise HTTPException(exc.status, exc.reason) from None
