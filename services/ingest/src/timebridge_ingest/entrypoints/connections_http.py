"""HTTP API for connections: the guide's Settings > Integrations > Everhour, as an API."""

import re
from collections.abc import Awaitable
from typing import Annotated, TypeVar

import httpx
from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import AfterValidator, BaseModel, Field

from timebridge_common.api import Credential, WorkspaceIdPath
from timebridge_common.auth import PlatformAdmin, WorkspaceAdmins
from timebridge_common.events import IntegrationSettings
from timebridge_common.http_errors import refusals
from timebridge_ingest.config import Settings
from timebridge_ingest.domain.connections import Integration
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.handlers.connections import Connections, TestErrorKind

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


class TestBody(BaseModel):
    api_key: Credential


class TestView(BaseModel):
    ok: bool
    account: dict[str, str] = {}
    error_kind: TestErrorKind | None = None
    message: str | None = None
    retry_after_s: float | None = None


class ConnectBody(BaseModel):
    provider: str = "everhour"
    api_key: Credential
    settings: IntegrationSettings = IntegrationSettings()


class SettingsBody(BaseModel):
    settings: IntegrationSettings


class IntegrationView(BaseModel):
    integration_id: str
    workspace_id: str
    provider: str
    status: str
    settings: IntegrationSettings
    account: dict[str, str]
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
            webhook_registered=integration.hook_id is not None,
            revision=integration.revision,
        )


def connections_router(
    settings: Settings, connections: Connections, admins: WorkspaceAdmins
) -> APIRouter:
    router = APIRouter()
    platform_admin = PlatformAdmin(settings.admin_token)
    admin = [Depends(admins.require)]
    refused = refusals(404, 409, 422, 502, 504)  # the use cases' refusals, with the reason

    @router.put(
        "/v1/admin/workspaces/{workspace_id}",
        tags=["admin"],
        summary="Register a workspace's Core (checked against Core before saving)",
        dependencies=[Depends(platform_admin.require)],
        responses=refusals(422, 502),
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
        result = await _answer(connections.test(provider, body.api_key))
        return TestView(
            ok=result.ok,
            account=result.account,
            error_kind=result.error_kind,
            message=result.message,
            retry_after_s=result.retry_after_s,
        )

    @router.post(
        "/v1/workspaces/{workspace_id}/integrations",
        tags=["integrations"],
        status_code=status.HTTP_201_CREATED,
        summary="Connect (tests the key again, saves it encrypted, registers the webhook)",
        dependencies=admin,
        responses=refused,
    )
    async def connect(workspace_id: WorkspaceIdPath, body: ConnectBody) -> IntegrationView:
        integration = await _answer(
            connections.connect(workspace_id, body.provider, body.api_key, body.settings)
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
