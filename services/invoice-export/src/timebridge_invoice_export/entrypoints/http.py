"""HTTP API of invoice-export: the Integrations, Clients, Projects, Rates, Expenses and Invoices
screens of the accounting article, as JSON.

Every ``/v1/workspaces/{workspace_id}/...`` route needs the bearer token of one of the
workspace's Core admins. The OAuth callback is authenticated by its one-time ``state``; the
webhooks by the tools' signatures (``webhooks_http``).
"""

from fastapi import APIRouter, Depends

from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.http_errors import refusals
from timebridge_invoice_export.entrypoints.http_billing import billing_router
from timebridge_invoice_export.entrypoints.http_connections import connections_router, oauth_router
from timebridge_invoice_export.entrypoints.http_invoices import invoices_router
from timebridge_invoice_export.entrypoints.http_rounding import rounding_router
from timebridge_invoice_export.handlers.billing import Billing
from timebridge_invoice_export.handlers.connections import Connections
from timebridge_invoice_export.handlers.invoices import Invoices

__all__ = ["api_router", "oauth_router"]


def api_router(
    connections: Connections, billing: Billing, invoices: Invoices, admins: WorkspaceAdmins
) -> APIRouter:
    """Every workspace route, one router per resource (``http_connections``, ``http_billing``,
    ``http_invoices``), behind the admin check."""
    # The use cases refuse with the reason (timebridge_common.refusals) on any of these routes.
    router = APIRouter(
        dependencies=[Depends(admins.require)], responses=refusals(404, 409, 422, 502)
    )
    router.include_router(connections_router(connections, admins))
    router.include_router(billing_router(billing))
    router.include_router(invoices_router(invoices, admins))
    router.include_router(rounding_router(billing.rounding, admins))
    return router
