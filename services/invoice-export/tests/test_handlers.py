"""The handlers on the in-memory store and the accounting port's fake: fast, no Kafka, no DB.

What the integration tests prove against Postgres, Kafka and the sandboxes, these check for the
use cases' own decisions: a draft exported once whatever fails in between, a refused consent
marking the connection, the ledger's stale, duplicate and locked versions, the first mirror and
the poll of a company's changes.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
import pytest
from timebridge_providers.kit.credentials import NeedsReauthorisationError
from timebridge_providers.kit.fakes.accounting import FakeAccountingTool, fake_accounting
from timebridge_providers.kit.fakes.credentials import FakeCredentialSource
from timebridge_providers.kit.ports.accounting import (
    AccountingTool,
    AppRegistration,
    Consent,
    ConsentContext,
    TaxDetails,
    Tenant,
    ToolClient,
    WebhookSpec,
)

from timebridge_common.errors import TransientError
from timebridge_common.events import Envelope, InvoiceExported, InvoiceExportRequested
from timebridge_common.outbound.http import DEFAULT_RETRY, AuthenticationError
from timebridge_common.refusals import ConflictError, NotFoundError
from timebridge_common.testing import sample_time_entry_logged
from timebridge_invoice_export.adapters.memory import MemoryStore
from timebridge_invoice_export.adapters.memory_verifications import MemoryVerifications
from timebridge_invoice_export.domain.clients import client_id
from timebridge_invoice_export.domain.connections import AccountingConnection
from timebridge_invoice_export.domain.rates import Rate
from timebridge_invoice_export.handlers.connections import Connections, ToolUnusableError
from timebridge_invoice_export.handlers.invoices import Invoices
from timebridge_invoice_export.handlers.ledger import on_time_entry_logged
from timebridge_invoice_export.handlers.ports import ToolConnection
from timebridge_invoice_export.handlers.sync import ToolSync, envelope
from timebridge_invoice_export.handlers.verifications import CallbackVerifications

TOOL = "fakebooks"
"""No installed provider: the handlers take any name the tools offer."""
WS = "acme"
TENANT = "company-1"
CONNECTION = "acc_1"
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@dataclass
class FakeTools:
    """``AccountingTools`` over the port's fake: one in-memory company per tenant."""

    companies: dict[str, FakeAccountingTool] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)
    """The access tokens tools were opened with."""
    tenants: list[Tenant] = field(default_factory=list)
    """The companies a consent offers."""
    issued: int = 0

    def names(self) -> frozenset[str]:
        return frozenset({TOOL})

    def oauth(self, provider: str, redirect_uri: str) -> Consent:
        app = AppRegistration(
            "id", "secret", "http://tool", "http://tool/auth", "http://tool/token"
        )
        http = httpx.AsyncClient(transport=httpx.MockTransport(self._token_endpoint))
        context = ConsentContext(app, redirect_uri, http, DEFAULT_RETRY, _now)
        return fake_accounting(self.companies, self.tenants).consent(context)

    def _token_endpoint(self, request: httpx.Request) -> httpx.Response:
        """The tool's token endpoint: every code is good once (the tests spend each once)."""
        self.issued += 1
        n = self.issued
        body = {"access_token": f"at-{n}", "refresh_token": f"rt-{n}", "expires_in": 3600}
        return httpx.Response(200, json=body)

    def webhooks(self, provider: str) -> WebhookSpec | None:
        return None

    def webhook_secret(self, provider: str) -> str:
        return ""

    def tool(self, connection: ToolConnection, access_token: str) -> AccountingTool:
        self.tokens.append(access_token)
        return self.companies.setdefault(connection.tenant_id, FakeAccountingTool(clock=_now))


def _now() -> dt.datetime:
    return NOW


@dataclass
class Rig:
    store: MemoryStore
    tools: FakeTools
    credentials: FakeCredentialSource
    connections: Connections
    sync: ToolSync
    invoices: Invoices

    @property
    def company(self) -> FakeAccountingTool:
        return self.tools.companies.setdefault(TENANT, FakeAccountingTool(clock=_now))

    def published(self, kind: type) -> list[tuple[object, Envelope]]:
        return [(e, env) for e, env in self.store.state.published if isinstance(e, kind)]


@pytest.fixture
async def rig() -> Rig:
    return await make_rig()


async def make_rig() -> Rig:
    """A connected company on the in-memory store and the accounting fake."""
    store, tools, credentials = MemoryStore(), FakeTools(), FakeCredentialSource()
    connections = Connections(
        store, tools, credentials, public_base_url="http://tb.test", state_ttl_s=900, clock=_now
    )
    sync = ToolSync(store, connections, _now)
    async with store.tx() as tx:
        await tx.save_connection(
            connection_id=CONNECTION,
            workspace_id=WS,
            provider=TOOL,
            status="connected",
            tenant_id=TENANT,
            tenant_name="Acme Books",
            tenants=(),
            connected_by="u_admin",
            now=NOW,
        )
    credentials.put(WS, CONNECTION, "access-1")
    invoices = Invoices(store, connections, sync, _now)
    return Rig(store, tools, credentials, connections, sync, invoices)


def _client(external_id: str, name: str, *, active: bool = True) -> ToolClient:
    return ToolClient(external_id, name, None, None, TaxDetails(), "USD", active, NOW)


async def _connection(rig: Rig) -> AccountingConnection:
    async with rig.store.tx() as tx:
        found = await tx.connection(CONNECTION)
    assert found is not None
    return found


async def _billable_client(rig: Rig) -> str:
    """A mirrored client with project p_1, a rate, and two hours of Core time on it."""
    rig.company.put_client(_client("c-9", "Globex"))
    await rig.sync.mirror_all(await _connection(rig))
    mirrored = client_id(CONNECTION, "c-9")
    async with rig.store.tx() as tx:
        await tx.assign_project(WS, "p_1", "Website", mirrored)
        await tx.put_rate(WS, Rate("r_1", "p_1", None, Decimal("120.00"), "USD"))
    for n in (1, 2):
        logged = sample_time_entry_logged(external_id=f"te_{n}")
        await on_time_entry_logged(rig.store, envelope(logged), logged)
    return mirrored


async def test_the_first_mirror_takes_active_clients_and_a_poll_applies_changes(rig: Rig) -> None:
    rig.company.put_client(_client("c-1", "Initech"))
    rig.company.put_client(_client("c-2", "Gone Ltd", active=False))
    connection = await _connection(rig)
    assert await rig.sync.mirror_all(connection) == 1
    async with rig.store.tx() as tx:
        assert [c.name for c in await tx.clients(WS, None)] == ["Initech"]

    rig.company.put_client(_client("c-1", "Initech Corp", active=False))
    cursor = await rig.sync.poll(connection, NOW - dt.timedelta(minutes=5))
    assert cursor == NOW
    async with rig.store.tx() as tx:
        mirrored = {c.external_id: c for c in await tx.clients(WS, None)}
    assert sorted(mirrored) == ["c-1", "c-2"]  # a client archived in the tool is mirrored too
    initech = mirrored["c-1"]
    assert (initech.name, initech.status, initech.archived_by) == (
        "Initech Corp",
        "archived",
        "tool",
    )
    assert rig.tools.tokens == ["access-1", "access-1"]


async def test_an_export_makes_one_draft_even_when_the_first_attempt_fails(rig: Rig) -> None:
    mirrored = await _billable_client(rig)
    day = dt.date(2026, 11, 21)
    draft = await rig.invoices.create(
        WS, mirrored, day, day, issue_date=None, due_date=None, admin="u"
    )
    invoice_id = draft.invoice.invoice_id
    await rig.invoices.request_export(WS, invoice_id)
    await rig.invoices.request_export(WS, invoice_id)  # a repeat changes nothing
    ((request, cause),) = rig.published(InvoiceExportRequested)
    assert isinstance(request, InvoiceExportRequested)

    rig.company.fail(TransientError("the tool is down"))
    with pytest.raises(TransientError):
        await rig.invoices.perform_export(cause, request)
    async with rig.store.tx() as tx:
        pending = await tx.invoice(invoice_id)
    assert pending is not None
    assert pending.status == "exporting"

    await rig.invoices.perform_export(cause, request)  # the redelivery
    await rig.invoices.perform_export(cause, request)  # and a duplicate of it
    (made,) = rig.company.drafts
    assert (made.invoice_id, made.total, [line.quantity for line in made.lines]) == (
        invoice_id,
        Decimal("240.00"),
        [Decimal("2.00")],
    )
    async with rig.store.tx() as tx:
        exported = await tx.invoice(invoice_id)
    assert exported is not None
    assert (exported.status, exported.provider_invoice_id, exported.tool_status) == (
        "exported",
        "inv-1",
        "draft",
    )
    ((exported_event, _),) = rig.published(InvoiceExported)
    assert isinstance(exported_event, InvoiceExported)
    assert [line.rate_source for line in exported_event.lines] == ["timebridge"]


async def test_a_refused_token_marks_the_connection_for_reauthorisation(rig: Rig) -> None:
    rig.company.fail(AuthenticationError(TOOL, "GET", "/customers", 401, "token revoked"))
    with pytest.raises(ToolUnusableError, match="no longer accepts"):
        await rig.sync.mirror_all(await _connection(rig))
    connection = await _connection(rig)
    assert connection.status == "needs_reauthorization"
    assert connection.last_error is not None
    assert "token revoked" in connection.last_error
    assert [(w, c) for w, c, _ in rig.credentials.refusals] == [(WS, CONNECTION)], (
        "the owner hears of the refusal (it refreshes on the next access)"
    )
    with pytest.raises(ToolUnusableError, match="needs_reauthorization"):
        async with rig.connections.tool(connection):
            pass


async def test_the_ledger_keeps_the_newest_version_once_and_locks_exported_entries(
    rig: Rig,
) -> None:
    first = sample_time_entry_logged()
    delivered = envelope(first)
    assert await on_time_entry_logged(rig.store, delivered, first) == "apply"
    assert await on_time_entry_logged(rig.store, delivered, first) == "duplicate"
    older = sample_time_entry_logged(updated_at=first.updated_at - dt.timedelta(minutes=1))
    assert await on_time_entry_logged(rig.store, envelope(older), older) == "stale"
    tracker = sample_time_entry_logged(source="elsewhere")
    assert await on_time_entry_logged(rig.store, envelope(tracker), tracker) == "ignored"

    mirrored = await _billable_client(rig)
    day = dt.date(2026, 11, 21)
    view = await rig.invoices.create(
        WS, mirrored, day, day, issue_date=None, due_date=None, admin="u"
    )
    await rig.invoices.request_export(WS, view.invoice.invoice_id)
    edited = sample_time_entry_logged(
        updated_at=first.updated_at + dt.timedelta(hours=1), external_id="te_1"
    )
    assert await on_time_entry_logged(rig.store, envelope(edited), edited) == "locked"
    async with rig.store.tx() as tx:
        changes = await tx.locked_changes(view.invoice.invoice_id)
    assert [c["entry_id"] for c in changes] == ["te_1"]


async def test_a_verification_posted_while_registering_is_held_then_confirmed_once(
    rig: Rig,
) -> None:
    rows = MemoryVerifications(rig.store)
    verifications = CallbackVerifications(rig.store, rows, rig.connections, _now)
    connection = await _connection(rig)
    await verifications.registering(CONNECTION)
    async with rig.connections.tool(connection) as tool:
        (awaiting,) = await tool.ensure_webhooks("http://tb.test/v1/webhooks/fakebooks/acc_1")
    # The tool posts the verifier before its answer to our create names the callback: held.
    assert await verifications.posted(connection, awaiting, "v-1") == "held"
    assert rig.company.registrations[awaiting] is False
    await verifications.registered(connection, [awaiting])
    assert rig.company.registrations[awaiting] is True
    assert (await _connection(rig)).verified_webhooks == 1
    assert await verifications.posted(connection, awaiting, "v-1") == "already verified"
    with pytest.raises(ConflictError, match="no verification of fakebooks callback"):
        await verifications.posted(connection, "cb-nobody-asked-for", "v-2")


async def test_a_tool_that_is_not_installed_is_not_found(rig: Rig) -> None:
    """Any name reaches the routes (no list of tools in the API): unknown ones are a 404."""
    with pytest.raises(NotFoundError, match="no accounting tool 'nope'"):
        await rig.connections.authorize(WS, "nope", "u_admin")
    authorization = await rig.connections.authorize(WS, TOOL, "u_admin")
    assert authorization.redirect_uri == f"http://tb.test/v1/oauth/{TOOL}/callback"
    assert f"state={authorization.state}" in authorization.authorize_url


async def _consent(rig: Rig) -> AccountingConnection:
    """An admin's consent through the fake tool: authorize, then the tool's redirect."""
    started = await rig.connections.authorize(WS, TOOL, "u_admin")
    return await rig.connections.complete(TOOL, {"state": started.state, "code": "code-1"})


async def test_a_consent_hands_its_tokens_to_the_credential_owner(rig: Rig) -> None:
    rig.tools.tenants = [Tenant("company-2", "Globex Books")]
    connection = await _consent(rig)
    assert (connection.status, connection.tenant_id) == ("connected", "company-2")
    kept = rig.credentials.tokens[(WS, connection.connection_id)]
    assert (kept.access_token, kept.refresh_token) == ("at-1", "rt-1")
    assert rig.credentials.providers[(WS, connection.connection_id)] == TOOL
    async with rig.connections.tool(connection):
        pass
    assert rig.tools.tokens == ["at-1"], "the tool is opened with the owner's access token"
    assert rig.credentials.calls == [(WS, connection.connection_id)]


async def test_the_owner_unavailable_is_transient_and_changes_nothing(rig: Rig) -> None:
    rig.credentials.fail(WS, CONNECTION, TransientError("credentials service answered 503"))
    with pytest.raises(TransientError):
        await rig.sync.mirror_all(await _connection(rig))
    connection = await _connection(rig)
    assert (connection.status, rig.tools.tokens) == ("connected", [])


async def test_the_owners_needs_reauthorisation_marks_the_connection(rig: Rig) -> None:
    rig.credentials.fail(WS, CONNECTION, NeedsReauthorisationError("invalid_grant"))
    with pytest.raises(ToolUnusableError, match="no longer accepts"):
        await rig.sync.mirror_all(await _connection(rig))
    connection = await _connection(rig)
    assert connection.status == "needs_reauthorization"
    assert rig.tools.tokens == [], "no call to the tool without an access token"
    # Connecting again stores the new consent with the owner and revives the connection.
    rig.tools.tenants = [Tenant(TENANT, "Acme Books")]
    again = await _consent(rig)
    assert (again.connection_id, again.status) == (CONNECTION, "connected")
    async with rig.connections.tool(again):
        pass
    assert rig.tools.tokens == ["at-1"]


async def test_choosing_a_company_connected_before_moves_the_tokens_to_it(rig: Rig) -> None:
    rig.tools.tenants = [Tenant(TENANT, "Acme Books"), Tenant("company-2", "Globex Books")]
    pending = await _consent(rig)
    assert pending.status == "choose_tenant"
    assert (WS, pending.connection_id) in rig.credentials.tokens
    chosen = await rig.connections.choose_tenant(WS, pending.connection_id, TENANT)
    assert chosen.connection_id == CONNECTION, "the connection of that company is revived"
    assert rig.credentials.tokens[(WS, CONNECTION)].refresh_token == "rt-1"
    assert (WS, pending.connection_id) not in rig.credentials.accesses


async def test_a_disconnect_has_the_owner_forget_the_tokens(rig: Rig) -> None:
    gone = await rig.connections.disconnect(WS, CONNECTION)
    assert gone.status == "disconnected"
    assert (WS, CONNECTION) not in rig.credentials.accesses
    with pytest.raises(ToolUnusableError, match="disconnected"):
        async with rig.connections.tool(gone):
            pass
