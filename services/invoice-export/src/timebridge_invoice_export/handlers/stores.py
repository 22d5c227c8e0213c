"""The store ports of invoice-export: what the handlers ask of their storage, per aggregate.

Handlers work inside one transaction (:meth:`Store.tx`, or :meth:`Store.once` for a consumed
event, which also claims its id); a ``lock=True`` read holds the row until the transaction ends,
so that a webhook, a poll and an admin acting on the same invoice or client serialise, and events
published in a transaction commit with its state. ``adapters/postgres.py`` is the production
adapter, ``adapters/memory.py`` the in-memory one of the handlers' unit tests.

No OAuth token is stored here: the credentials service owns them (``CredentialKeeper``).
"""

import datetime as dt
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from timebridge_common.events import Envelope, Event
from timebridge_invoice_export.domain.accounting import Tenant
from timebridge_invoice_export.domain.clients import MirroredClient
from timebridge_invoice_export.domain.connections import (
    AccountingConnection,
    ConnectionStatus,
    OAuthState,
)
from timebridge_invoice_export.domain.invoices import Expense, Invoice
from timebridge_invoice_export.domain.ledger import Held, LedgerEntry
from timebridge_invoice_export.domain.payments import HeldPayment
from timebridge_invoice_export.domain.rates import Rate
from timebridge_invoice_export.domain.rounding import RoundingPolicy


class ConnectionsTx(Protocol):
    """Accounting connection rows."""

    async def add_oauth_state(
        self, state: str, value: OAuthState, expires_at: dt.datetime
    ) -> None: ...

    async def use_oauth_state(
        self, state: str, provider: str, now: dt.datetime
    ) -> OAuthState | None:
        """Spend ``state`` (once, before it expires); None if unknown, used or expired."""
        ...

    async def connection(
        self, connection_id: str, *, lock: bool = False
    ) -> AccountingConnection | None: ...

    async def connection_for_tenant(
        self, workspace_id: str, provider: str, tenant_id: str
    ) -> AccountingConnection | None: ...

    async def connections_of_tenant(self, provider: str, tenant_id: str) -> list[str]:
        """Connected connections (of any workspace) to one company: webhook routing."""
        ...

    async def connections(self, workspace_id: str) -> list[AccountingConnection]: ...

    async def save_connection(
        self,
        *,
        connection_id: str,
        workspace_id: str,
        provider: str,
        status: ConnectionStatus,
        tenant_id: str | None,
        tenant_name: str | None,
        tenants: Sequence[Tenant],
        connected_by: str,
        now: dt.datetime,
    ) -> None:
        """Create the connection or revive it (a reconnect keeps its id, clients, invoices)."""
        ...

    async def delete_connection(self, connection_id: str) -> None:
        """Drop a pending connection whose company turned out to be connected already."""
        ...

    async def set_connection_status(
        self,
        connection_id: str,
        status: ConnectionStatus,
        now: dt.datetime,
        *,
        error: str | None = None,
        forget_webhooks: bool = False,
    ) -> None:
        """``forget_webhooks``: drop the webhook registration and its verifiers (disconnect)."""
        ...

    async def claim_due_polls(self, now: dt.datetime, interval_s: float) -> list[str]:
        """Connections due for a poll, claimed until the next interval (replicas share)."""
        ...

    async def poll_now(self, connection_id: str, now: dt.datetime) -> None: ...

    async def polled(
        self,
        connection_id: str,
        now: dt.datetime,
        *,
        cursor: dt.datetime | None,
        mirrored: bool,
        error: str | None,
    ) -> None: ...

    async def webhooks_registered(self, connection_id: str, now: dt.datetime) -> None: ...

    async def add_webhook_verifier(
        self, connection_id: str, callback_id: str, verifier: str
    ) -> None: ...

    async def webhook_verifiers(self, connection_id: str) -> list[str]: ...


class CatalogTx(Protocol):
    """Clients, projects, rates and expenses."""

    async def client(self, client_id: str, *, lock: bool = False) -> MirroredClient | None: ...

    async def client_by_external_id(
        self, connection_id: str, external_id: str
    ) -> MirroredClient | None: ...

    async def clients(self, workspace_id: str, status: str | None) -> list[MirroredClient]: ...

    async def save_client(self, client: MirroredClient) -> None: ...

    async def assign_project(
        self, workspace_id: str, project_id: str, name: str, client_id: str
    ) -> None: ...

    async def unassign_project(self, workspace_id: str, project_id: str) -> bool: ...

    async def projects(self, workspace_id: str) -> dict[str, tuple[str, str]]:
        """project id -> (name, client id)."""
        ...

    async def rates(self, workspace_id: str) -> list[Rate]: ...

    async def put_rate(self, workspace_id: str, rate: Rate) -> Rate:
        """Insert or replace the rate of that scope; returns it with its (kept) id."""
        ...

    async def delete_rate(self, workspace_id: str, rate_id: str) -> bool: ...

    async def rate_source(self, workspace_id: str, client_id: str | None) -> str | None:
        """The tracker integration whose rates bill the client (its own choice, else the
        workspace's); ``None``: Timebridge's own rates."""
        ...

    async def put_rate_source(
        self, workspace_id: str, client_id: str | None, integration_id: str | None
    ) -> None: ...

    async def tracker_rates(self, workspace_id: str, integration_id: str) -> list[Rate]: ...

    async def replace_tracker_rates(
        self, workspace_id: str, integration_id: str, rates: Sequence[Rate], read_at: dt.datetime
    ) -> None: ...

    async def add_expense(self, expense: Expense) -> None: ...

    async def expense(self, expense_id: str, *, lock: bool = False) -> Expense | None: ...

    async def expenses(self, workspace_id: str) -> list[Expense]: ...

    async def delete_expense(self, expense_id: str) -> None: ...


class LedgerTx(Protocol):
    """The ledger."""

    async def held_entry(self, workspace_id: str, entry_id: str) -> Held | None: ...

    async def save_entry(self, entry: LedgerEntry) -> None: ...

    async def record_locked_change(self, entry: LedgerEntry, invoice_id: str) -> None: ...

    async def locked_changes(self, invoice_id: str) -> list[dict[str, Any]]: ...

    async def entries(
        self, workspace_id: str, *, invoice_id: str | None = None, uninvoiced: bool = False
    ) -> list[LedgerEntry]: ...

    async def reserve(
        self,
        workspace_id: str,
        invoice_id: str,
        project_ids: Sequence[str],
        start: dt.date,
        end: dt.date,
    ) -> tuple[int, int]:
        """Put the period's billable, uninvoiced entries and expenses of those projects on the
        invoice; returns how many of each (the rows are locked: two drafts never share one)."""
        ...

    async def release(self, invoice_id: str) -> tuple[list[str], list[str]]:
        """Take every entry and expense off the invoice; returns their ids."""
        ...

    async def release_unbillable(self, invoice_id: str) -> None:
        """A draft lets go of entries that were deleted or made non-billable meanwhile."""
        ...

    async def expenses_of(self, invoice_id: str) -> list[Expense]: ...


class InvoicesTx(Protocol):
    """Invoices."""

    async def add_invoice(self, invoice: Invoice) -> None: ...

    async def invoice(self, invoice_id: str, *, lock: bool = False) -> Invoice | None: ...

    async def invoice_by_tool_id(
        self, connection_id: str, provider_invoice_id: str
    ) -> Invoice | None: ...

    async def invoices(
        self, workspace_id: str, *, client_id: str | None, status: str | None
    ) -> list[Invoice]: ...

    async def stalled_exports(self, before: dt.datetime) -> list[Invoice]: ...

    async def update_invoice(self, invoice_id: str, **fields: Any) -> None:
        """Set the given columns (names are this module's callers', never user input)."""
        ...


class PaymentsTx(Protocol):
    """Payments of exported invoices, one row per payment and invoice."""

    async def invoice_payments(self, invoice_id: str) -> list[HeldPayment]: ...

    async def payment_rows(self, connection_id: str, provider_payment_id: str) -> list[HeldPayment]:
        """Every invoice the payment settled, as held."""
        ...

    async def save_payment(self, payment: HeldPayment) -> None:
        """Insert or replace the row of (connection, payment, tool invoice)."""
        ...


class RoundingTx(Protocol):
    """Rounding policies, every version kept."""

    async def rounding_policy(
        self, workspace_id: str, client_id: str, *, lock: bool = False
    ) -> RoundingPolicy | None:
        """The newest version of the client's own (``''``: the workspace's) policy."""
        ...

    async def rounding_versions(
        self, workspace_id: str, client_id: str
    ) -> list[RoundingPolicy]: ...

    async def add_rounding_policy(self, policy: RoundingPolicy) -> None: ...


class Tx(ConnectionsTx, CatalogTx, LedgerTx, InvoicesTx, PaymentsTx, RoundingTx, Protocol):
    """One open transaction of every aggregate."""

    async def publish(self, events: Sequence[tuple[Event, Envelope]]) -> None:
        """Stage events to be published once the transaction commits (the outbox)."""
        ...


class Store(Protocol):
    def tx(self) -> AbstractAsyncContextManager[Tx]: ...

    def once(self, consumer: str, envelope: Envelope) -> AbstractAsyncContextManager[Tx | None]:
        """A transaction that also claims ``envelope`` for ``consumer`` (None: seen before)."""
        ...


class VerificationRows(Protocol):
    """Per-connection webhook verifications awaited, held and confirmed."""

    async def registering(self, connection_id: str, until: dt.datetime) -> None: ...

    async def registered(self, connection_id: str) -> None: ...

    async def awaited(self, connection_id: str, callback_id: str, until: dt.datetime) -> str | None:
        """Await ``callback_id`` (FreshBooks returned it to us) until ``until``, with a fresh
        attempt budget; the verifier held for it, if one was posted before, is handed back."""
        ...

    async def attempt(
        self, connection_id: str, callback_id: str, now: dt.datetime, max_attempts: int
    ) -> bool:
        """Take one of the awaited callback's attempts; False when it is not awaited (any more)
        or its attempts are spent."""
        ...

    async def hold(
        self,
        connection_id: str,
        callback_id: str,
        verifier: str,
        now: dt.datetime,
        max_held: int,
    ) -> bool:
        """Keep a verifier posted for a callback we do not know yet, while a registration is
        under way and fewer than ``max_held`` are kept; False otherwise (nothing kept)."""
        ...

    async def done(self, connection_id: str, callback_id: str) -> None: ...

    async def is_verified(self, connection_id: str, callback_id: str) -> bool:
        """Whether a verifier of ``callback_id`` is kept already (FreshBooks confirmed it)."""
        ...

    async def purge(self, now: dt.datetime) -> None: ...
