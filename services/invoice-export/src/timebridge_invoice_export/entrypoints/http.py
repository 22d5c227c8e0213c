"""HTTP routes of invoice-export."""

from typing import Any

from fastapi import APIRouter

from timebridge_common.api import WorkspaceIdPath
from timebridge_invoice_export.adapters.postgres import PostgresLedger


def ledger_router(ledger: PostgresLedger) -> APIRouter:
    router = APIRouter(tags=["billing"])

    @router.get(
        "/v1/workspaces/{workspace_id}/billable-entries",
        summary="Billable, confirmed-synced entries not yet on an invoice",
    )
    async def billable_entries(workspace_id: WorkspaceIdPath) -> list[dict[str, Any]]:
        return await ledger.uninvoiced(workspace_id)

    return router
