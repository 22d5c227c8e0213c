"""The accounting sandboxes of the accounting article's integration test: QuickBooks Online,
Xero and FreshBooks, each with its state, its app registration and what a user does in it."""

import datetime as dt
from decimal import Decimal
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from timebridge_invoice_export.config import AccountingApp
from timebridge_sandboxes import freshbooks as fb_sandbox
from timebridge_sandboxes import quickbooks as qbo_sandbox
from timebridge_sandboxes import xero as xero_sandbox
from timebridge_sandboxes.faults import Faults, RateLimit

CORE_URL = "http://core.sandbox"
INGEST_URL = "http://ingest.test"
INVOICE_URL = "https://invoice.test"
PLATFORM_ADMIN = "platform-admin-token"
SERVICE = "core-service-token"
VERIFIER = "qbo-verifier-token-1"
XERO_KEY = "xero-webhook-key-1"
NOVEMBER = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
DECEMBER = (dt.date(2026, 12, 1), dt.date(2026, 12, 31))
ADDRESS = {"line1": "1 Main St", "city": "Springfield", "postal_code": "62701", "country": "US"}


class Tool(Protocol):
    """What an accountant does in one accounting tool (its sandbox's admin API)."""

    provider: str
    app: Any
    faults: Faults

    def customer(self, name: str) -> str:
        """A customer with address, e-mail and tax number, in USD (made in the tool's UI)."""
        ...

    async def rename(self, external_id: str, name: str) -> None: ...

    async def archive(self, external_id: str) -> None: ...

    async def edit_amount(self, invoice_id: str) -> Decimal:
        """Change the invoice's lines and number; returns the new amount (before tax)."""
        ...

    async def send(self, invoice_id: str) -> None: ...

    async def pay(self, invoice_id: str) -> None: ...

    async def delete(self, invoice_id: str) -> None: ...

    def invoices(self) -> list[tuple[str, str, list[tuple[str, Decimal, Decimal]]]]:
        """(id, status, [(description, quantity, unit price)]) of every invoice in the tool."""
        ...

    def app_config(self) -> AccountingApp: ...

    async def subscribe(self) -> None:
        """Point the tool's webhooks at invoice-export (per app; FreshBooks: nothing to do)."""
        ...


async def _admin(app: Any, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://tool/_sandbox"
    ) as api:
        answer = await api.request(method, path, json=body)
    assert answer.is_success, answer.text
    return answer.json() if answer.content else None


def _app(provider: str, authorize: str, token: str, secret: str = "") -> AccountingApp:
    return AccountingApp(
        client_id=f"{provider}-client",
        client_secret=SecretStr(f"{provider}-secret"),
        webhook_secret=SecretStr(secret),
        api_url=f"http://{provider}.sandbox",
        authorize_url=f"http://{provider}.sandbox{authorize}",
        token_url=f"http://{provider}.sandbox{token}",
    )


def _redirect(provider: str) -> str:
    return f"{INVOICE_URL}/v1/oauth/{provider}/callback"


class QuickBooks:
    provider: str = "quickbooks"

    def __init__(self, webhooks: httpx.AsyncBaseTransport) -> None:
        self.state = qbo_sandbox.QuickBooksState()
        self.state.add_app("quickbooks-client", "quickbooks-secret", [_redirect("quickbooks")])
        self.realm = self.state.add_company("Acme Consulting")
        self.state.add_account(self.realm, "Services")
        self.faults = Faults()
        self.app = qbo_sandbox.create_quickbooks_sandbox(
            self.state, self.faults, rate_limit=RateLimit(10**6, 60), webhook_transport=webhooks
        )

    def app_config(self) -> AccountingApp:
        return _app("quickbooks", "/connect/oauth2", "/oauth2/v1/tokens/bearer", VERIFIER)

    async def subscribe(self) -> None:
        url = f"{INVOICE_URL}/v1/webhooks/quickbooks"
        await _admin(self.app, "PUT", "/webhook", {"url": url, "verifier_token": VERIFIER})

    def customer(self, name: str) -> str:
        return self.state.add_customer(
            self.realm,
            {
                "DisplayName": name,
                "PrimaryEmailAddr": {"Address": "ap@globex.test"},
                "BillAddr": {
                    "Line1": "1 Main St",
                    "City": "Springfield",
                    "PostalCode": "62701",
                    "Country": "US",
                },
                "PrimaryTaxIdentifier": "12-3456789",
            },
        )

    async def rename(self, external_id: str, name: str) -> None:
        path = f"/companies/{self.realm}/customers/{external_id}"
        await _admin(self.app, "PATCH", path, {"DisplayName": name})

    async def archive(self, external_id: str) -> None:
        path = f"/companies/{self.realm}/customers/{external_id}"
        await _admin(self.app, "PATCH", path, {"Active": False})

    async def edit_amount(self, invoice_id: str) -> Decimal:
        record = self._invoice(invoice_id)
        item = record["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"]
        line = {
            "Amount": 500.0,
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": 4, "UnitPrice": 125},
        }
        path = f"/companies/{self.realm}/invoices/{invoice_id}"
        edit = {"DocNumber": "TB-2026-11", "TxnDate": "2026-12-01", "Line": [line]}
        await _admin(self.app, "PATCH", path, edit)
        return Decimal(500)

    async def send(self, invoice_id: str) -> None:
        await _admin(self.app, "POST", f"/companies/{self.realm}/invoices/{invoice_id}/send")

    async def pay(self, invoice_id: str) -> None:
        path = f"/companies/{self.realm}/invoices/{invoice_id}/payments"
        await _admin(self.app, "POST", path, {"amount": "500.00"})

    async def delete(self, invoice_id: str) -> None:
        await _admin(self.app, "DELETE", f"/companies/{self.realm}/invoices/{invoice_id}")

    def _invoice(self, invoice_id: str) -> dict[str, Any]:
        record = self.state.companies[self.realm].live("Invoice", invoice_id)
        return record.fields

    def invoices(self) -> list[tuple[str, str, list[tuple[str, Decimal, Decimal]]]]:
        found = []
        for record in self.state.companies[self.realm].all("Invoice"):
            lines = [
                (
                    line.get("Description", ""),
                    Decimal(str(line["SalesItemLineDetail"]["Qty"])),
                    Decimal(str(line["SalesItemLineDetail"]["UnitPrice"])),
                )
                for line in record.fields["Line"]
                if line.get("DetailType") == "SalesItemLineDetail"
            ]
            status = "sent" if record.fields.get("EmailStatus") == "EmailSent" else "unsent"
            found.append((record.id, status, lines))
        return found


class Xero:
    provider: str = "xero"

    def __init__(self, webhooks: httpx.AsyncBaseTransport) -> None:
        self.state = xero_sandbox.XeroState()
        self.state.add_app("xero-client", "xero-secret", [_redirect("xero")])
        self.tenant = self.state.add_tenant("Demo Company (US)")
        self.faults = Faults()
        self.app = xero_sandbox.create_xero_sandbox(
            self.state, self.faults, rate_limit=RateLimit(10**6, 60), webhook_transport=webhooks
        )

    def app_config(self) -> AccountingApp:
        return _app("xero", "/identity/connect/authorize", "/connect/token", XERO_KEY)

    async def subscribe(self) -> None:
        url = f"{INVOICE_URL}/v1/webhooks/xero"
        answer = await _admin(self.app, "PUT", "/webhook", {"url": url, "key": XERO_KEY})
        assert answer["status"] == "OK", answer  # Xero's intent-to-receive check passed

    def customer(self, name: str) -> str:
        return self.state.add_contact(
            self.tenant,
            name,
            email="ap@globex.test",
            tax_number="12-3456789",
            addresses=[
                {
                    "AddressType": "STREET",
                    "AddressLine1": "1 Main St",
                    "City": "Springfield",
                    "PostalCode": "62701",
                    "Country": "US",
                }
            ],
        )

    async def rename(self, external_id: str, name: str) -> None:
        await _admin(self.app, "PATCH", f"/contacts/{external_id}", {"Name": name})

    async def archive(self, external_id: str) -> None:
        await _admin(self.app, "PATCH", f"/contacts/{external_id}", {"ContactStatus": "ARCHIVED"})

    async def edit_amount(self, invoice_id: str) -> Decimal:
        lines = [
            {"Description": "Consulting", "Quantity": 4, "UnitAmount": 125, "AccountCode": "200"}
        ]
        edit = {"InvoiceNumber": "TB-2026-11", "Date": "2026-12-01", "LineItems": lines}
        await _admin(self.app, "PATCH", f"/invoices/{invoice_id}", edit)
        return Decimal(500)

    async def send(self, invoice_id: str) -> None:
        await _admin(self.app, "POST", f"/invoices/{invoice_id}/approve")

    async def pay(self, invoice_id: str) -> None:
        await _admin(self.app, "POST", f"/invoices/{invoice_id}/payments", {})

    async def delete(self, invoice_id: str) -> None:
        await _admin(self.app, "POST", f"/invoices/{invoice_id}/delete")

    def invoices(self) -> list[tuple[str, str, list[tuple[str, Decimal, Decimal]]]]:
        return [
            (
                invoice.id,
                invoice.status,
                [
                    (
                        line.description or "",
                        line.quantity or Decimal(0),
                        line.unit_amount or Decimal(0),
                    )
                    for line in invoice.lines
                ],
            )
            for invoice in self.state.invoices.values()
        ]


class FreshBooks:
    provider: str = "freshbooks"

    def __init__(self, webhooks: httpx.AsyncBaseTransport) -> None:
        self.state = fb_sandbox.FreshBooksState(
            client_id="freshbooks-client", client_secret="freshbooks-secret"
        )
        self.account = self.state.add_business("Acme Studio")
        self.state.add_identity("Ann", "Admin", "ann@acme.test", {self.account: "owner"})
        self.faults = Faults()
        self.app = fb_sandbox.create_freshbooks_sandbox(
            self.state, self.faults, rate_limit=RateLimit(10**6, 60), webhook_transport=webhooks
        )

    def app_config(self) -> AccountingApp:
        return _app("freshbooks", "/oauth/authorize", "/auth/oauth/token")

    async def subscribe(self) -> None:
        """FreshBooks callbacks are registered per company, by invoice-export itself."""

    def customer(self, name: str) -> str:
        return str(
            self.state.add_client(
                self.account,
                organization=name,
                email="ap@globex.test",
                p_street="1 Main St",
                p_city="Springfield",
                p_code="62701",
                p_country="US",
                vat_number="12-3456789",
                currency_code="USD",
            )
        )

    async def rename(self, external_id: str, name: str) -> None:
        await _admin(self.app, "PATCH", f"/clients/{external_id}", {"organization": name})

    async def archive(self, external_id: str) -> None:
        await _admin(self.app, "PATCH", f"/clients/{external_id}", {"vis_state": 2})

    async def edit_amount(self, invoice_id: str) -> Decimal:
        edit = {
            "invoice_number": "TB-2026-11",
            "create_date": "2026-12-01",
            "lines": [{"name": "Hours", "qty": 4, "unit_cost": {"amount": "125.00"}}],
        }
        await _admin(self.app, "PATCH", f"/invoices/{invoice_id}", edit)
        return Decimal(500)

    async def send(self, invoice_id: str) -> None:
        await _admin(self.app, "POST", f"/invoices/{invoice_id}/sent")

    async def pay(self, invoice_id: str) -> None:
        await _admin(self.app, "POST", f"/invoices/{invoice_id}/paid")

    async def delete(self, invoice_id: str) -> None:
        await _admin(self.app, "DELETE", f"/invoices/{invoice_id}")

    def invoices(self) -> list[tuple[str, str, list[tuple[str, Decimal, Decimal]]]]:
        return [
            (
                str(invoice.id),
                str(invoice.status),
                [(line.description, line.qty, line.unit_cost) for line in invoice.lines],
            )
            for invoice in self.state.invoices.values()
        ]
