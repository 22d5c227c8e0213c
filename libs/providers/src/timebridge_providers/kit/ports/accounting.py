"""The accounting tool: clients, draft invoices, their status and payments.

(Owned by the invoice-export move; this first cut names the shapes the registry refers to.)
"""

from typing import Protocol


class AccountingTool(Protocol):
    """An invoicing tool's account."""

    async def company_name(self) -> str: ...
