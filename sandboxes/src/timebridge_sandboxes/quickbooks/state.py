"""The sandbox's data: OAuth apps and grants, companies and their entities, the webhook target."""

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from timebridge_sandboxes.quickbooks.base import (
    ACCESS_TOKEN_TTL,
    HOME_CURRENCY,
    REFRESH_TOKEN_TTL_S,
    Company,
    Json,
    utcnow,
)
from timebridge_sandboxes.quickbooks.elements import conform
from timebridge_sandboxes.quickbooks.entities import check_unique, customer_fields, item_fields


@dataclass
class App:
    client_id: str
    client_secret: str
    redirect_uris: list[str]


@dataclass
class Grant:
    """What a code, access token or refresh token stands for."""

    client_id: str
    realm_id: str
    expires_at: dt.datetime
    redirect_uri: str = ""


@dataclass
class WebhookTarget:
    """The app's webhook endpoint (one for every connected company) and its verifier token."""

    url: str
    verifier_token: str
    format: Literal["cloudevents", "legacy"] = "cloudevents"

    def signature(self, body: bytes) -> str:
        mac = hmac.new(self.verifier_token.encode(), body, hashlib.sha256).digest()
        return base64.b64encode(mac).decode()


@dataclass(frozen=True)
class Delivery:
    """One webhook the sandbox sent and what came back."""

    payload: Json | list[Json]
    status: int | None
    error: str | None = None


@dataclass
class QuickBooksState:
    """The sandbox's data. Entity ids count up per company, so a seed always yields the same ids."""

    now: Callable[[], dt.datetime] = utcnow
    apps: dict[str, App] = field(default_factory=dict)
    companies: dict[str, Company] = field(default_factory=dict)
    consent_realm: str | None = None
    """The company the seeded user picks at consent (default: the first one)."""
    codes: dict[str, Grant] = field(default_factory=dict)
    access_tokens: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    webhook: WebhookTarget | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    _realms: int = 0

    def reset(self) -> None:
        for table in (self.apps, self.companies, self.codes, self.access_tokens):
            table.clear()
        self.refresh_tokens.clear()
        self.deliveries.clear()
        self.webhook = None
        self.consent_realm = None
        self._realms = 0

    def add_app(self, client_id: str, client_secret: str, redirect_uris: Iterable[str]) -> None:
        self.apps[client_id] = App(client_id, client_secret, list(redirect_uris))

    def add_company(self, name: str, realm_id: str | None = None) -> str:
        self._realms += 1
        realm = realm_id or str(9_130_350_000_000_000 + self._realms)
        self.companies[realm] = Company(realm, name, created=self.now())
        return realm

    def issue_tokens(self, realm_id: str, client_id: str) -> tuple[str, str]:
        """A fresh access and refresh token of ``client_id`` for the company, as after consent."""
        now = self.now()
        access, refresh = secrets.token_urlsafe(32), f"AB11{secrets.token_urlsafe(32)}"
        self.access_tokens[access] = Grant(client_id, realm_id, now + ACCESS_TOKEN_TTL)
        expires = now + dt.timedelta(seconds=REFRESH_TOKEN_TTL_S)
        self.refresh_tokens[refresh] = Grant(client_id, realm_id, expires)
        return access, refresh

    def add_customer(self, realm_id: str, elements: Json) -> str:
        """A customer as a user creates it in QuickBooks (``DisplayName`` at least)."""
        body = conform("Customer", elements)
        check_unique(self.companies[realm_id], "Customer", body, None)
        return self.insert(realm_id, "Customer", customer_fields(body))

    def add_account(self, realm_id: str, name: str) -> str:
        """An income account, where service items post their sales."""
        fields = {
            "Name": name,
            "FullyQualifiedName": name,
            "AccountType": "Income",
            "Active": True,
            "Classification": "Revenue",
            "CurrencyRef": HOME_CURRENCY,
        }
        return self.insert(realm_id, "Account", fields)

    def add_item(self, realm_id: str, name: str, income_account_id: str, **elements: Any) -> str:
        """A service item (more QuickBooks elements in ``elements``)."""
        company = self.companies[realm_id]
        body = {"Name": name, "Type": "Service", "IncomeAccountRef": {"value": income_account_id}}
        body = conform("Item", {**body, **elements})
        check_unique(company, "Item", body, None)
        return self.insert(realm_id, "Item", item_fields(company, body))

    def insert(self, realm_id: str, kind: str, fields: Json) -> str:
        return self.companies[realm_id].insert(kind, fields, self.now).id
