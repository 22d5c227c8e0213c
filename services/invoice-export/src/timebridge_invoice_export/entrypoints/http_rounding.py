"""HTTP API of rounding policies: the workspace's and each client's, every change a version."""

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from timebridge_providers.core.client import CoreUser

from timebridge_common.auth import WorkspaceAdmins
from timebridge_invoice_export.domain.rounding import RoundingPolicy
from timebridge_invoice_export.entrypoints.paths import WS, Id, WorkspaceIdPath
from timebridge_invoice_export.handlers.rounding import Rounding


class RoundingBody(BaseModel):
    increment_minutes: int = Field(
        ge=0, le=60, description="Bill time rounded up to this many minutes (6, 15...); 0: exact"
    )
    applies_to: Literal["per_entry", "per_line"] = Field(
        default="per_entry",
        description="Round each entry, or each invoice line's sum of entries",
    )


class RoundingView(BaseModel):
    policy_id: str = Field(description="workspace, or client:<client id>")
    client_id: str | None
    version: int
    increment_minutes: int
    applies_to: Literal["per_entry", "per_line"]
    created_at: dt.datetime
    created_by: str

    @classmethod
    def of(cls, p: RoundingPolicy) -> "RoundingView":
        return cls(
            policy_id=p.policy_id,
            client_id=p.client_id or None,
            version=p.version,
            increment_minutes=p.increment_minutes,
            applies_to=p.applies_to,
            created_at=p.created_at,
            created_by=p.created_by,
        )


class RoundingHistory(BaseModel):
    current: RoundingView | None = Field(description="null: no policy here (exact time)")
    versions: list[RoundingView]


class EffectiveRounding(BaseModel):
    client_id: str
    policy: RoundingView | None = Field(
        description="The version the client's next invoice uses (its own, else the workspace's)"
    )


def rounding_router(rounding: Rounding, admins: WorkspaceAdmins) -> APIRouter:
    router = APIRouter()
    Admin = Annotated[CoreUser, Depends(admins.require)]

    async def history(workspace_id: str, client_id: str | None) -> RoundingHistory:
        versions = [RoundingView.of(p) for p in await rounding.versions(workspace_id, client_id)]
        return RoundingHistory(current=versions[-1] if versions else None, versions=versions)

    @router.get(f"{WS}/rounding", tags=["rates"])
    async def workspace_rounding(workspace_id: WorkspaceIdPath) -> RoundingHistory:
        """The workspace's rounding policy (clients without their own use it), every version."""
        return await history(workspace_id, None)

    @router.put(f"{WS}/rounding", tags=["rates"])
    async def change_workspace_rounding(
        workspace_id: WorkspaceIdPath, body: RoundingBody, admin: Admin
    ) -> RoundingView:
        """A new version of the workspace's policy (the same rule again makes none). Applied
        when invoicing only: entries keep their exact time, exported invoices their version."""
        made = await rounding.change(
            workspace_id,
            None,
            increment_minutes=body.increment_minutes,
            applies_to=body.applies_to,
            admin=admin.id,
        )
        return RoundingView.of(made)

    @router.get(f"{WS}/clients/{{client_id}}/rounding", tags=["rates"])
    async def client_rounding(workspace_id: WorkspaceIdPath, client_id: Id) -> RoundingHistory:
        """The client's own policy, every version."""
        return await history(workspace_id, client_id)

    @router.get(f"{WS}/clients/{{client_id}}/rounding/effective", tags=["rates"])
    async def effective_rounding(workspace_id: WorkspaceIdPath, client_id: Id) -> EffectiveRounding:
        found = await rounding.effective(workspace_id, client_id)
        return EffectiveRounding(
            client_id=client_id, policy=None if found is None else RoundingView.of(found)
        )

    @router.put(f"{WS}/clients/{{client_id}}/rounding", tags=["rates"])
    async def change_client_rounding(
        workspace_id: WorkspaceIdPath, client_id: Id, body: RoundingBody, admin: Admin
    ) -> RoundingView:
        """A new version of the client's own policy (beats the workspace's)."""
        made = await rounding.change(
            workspace_id,
            client_id,
            increment_minutes=body.increment_minutes,
            applies_to=body.applies_to,
            admin=admin.id,
        )
        return RoundingView.of(made)

    return router
