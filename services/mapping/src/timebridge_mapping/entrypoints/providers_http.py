"""``GET .../providers``: the installed providers (trackers, accounting tools, the home system)
for the console and API clients, from the registry's profiles.

Under a workspace and for its Core admins, as every other route: what is installed is not a
secret, but a route open to anyone is one more to defend, and only admins set integrations up.
"""

from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from timebridge_providers.installed import registry

from timebridge_common.api import WorkspaceIdPath
from timebridge_common.auth import WorkspaceAdmins
from timebridge_mapping.domain.providers import facts


class DirectionView(BaseModel):
    direction: Literal["two_way", "core_to_tracker", "tracker_to_core"]
    allowed: bool
    why_not: str | None = None


class ProviderView(BaseModel):
    name: str
    title: str
    kind: Literal["home", "tracker", "accounting", "hr"]
    auth: Literal["api_key", "token", "oauth2"]
    capabilities: list[str]
    directions: list[DirectionView]
    changes: Literal["webhooks", "polling"]
    units: str
    granularity: str
    billable: str
    requires_task: bool
    mapped: bool
    kept_fields: list[str]
    writable_fields: list[str]
    connection_fields: dict[str, str]
    """What an admin enters to connect besides the credential (key -> label)."""
    docs_url: str


def providers_router(admins: WorkspaceAdmins) -> APIRouter:
    router = APIRouter(tags=["providers"], dependencies=[Depends(admins.require)])

    @router.get(
        "/v1/workspaces/{workspace_id}/providers",
        summary="The installed providers: kind, capabilities, directions allowed (or why not),"
        " webhooks or polling, units",
    )
    async def providers(workspace_id: WorkspaceIdPath) -> list[ProviderView]:
        del workspace_id  # the same for every workspace; the path scopes the admin check
        # In the registry's order (installed.py's), which is the order people are shown them.
        return [ProviderView.model_validate(facts(p), from_attributes=True) for p in registry()]

    return router
