"""What invoice-export knows of an accounting tool: the accounting port's plain data.

The provider packages translate each tool's customers into :class:`ToolClient`, its invoices into
:class:`ToolInvoice`, and an :class:`ExportDraft` into the tool's draft invoice; invoice-export
only ever sees these types, and names a tool by the registry's name (a ``str``), shown to people
by its profile's title (:func:`title`).
"""

from timebridge_providers.installed import registry
from timebridge_providers.kit.ports.accounting import (
    Address,
    ExportDraft,
    ExportLine,
    TaxDetails,
    Tenant,
    ToolChanges,
    ToolClient,
    ToolInvoice,
    ToolInvoiceStatus,
    ToolPayment,
    ToolPaymentState,
    gone_invoice,
)

__all__ = [
    "Address",
    "ExportDraft",
    "ExportLine",
    "TaxDetails",
    "Tenant",
    "ToolChanges",
    "ToolClient",
    "ToolInvoice",
    "ToolInvoiceStatus",
    "ToolPayment",
    "ToolPaymentState",
    "gone_invoice",
    "title",
]


def title(provider: str) -> str:
    """The tool's name for people (its profile's title); the name itself if not installed."""
    providers = registry()
    return providers.get(provider).profile.title if provider in providers else provider
