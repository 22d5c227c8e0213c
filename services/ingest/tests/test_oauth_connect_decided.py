"""Connection fields a consent decides (Xero Projects' organisation, chosen among the tenants
the person connected): they may be left empty when the consent starts, and the integration is
saved and tested with what the credential owner completed; other fields stay required."""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import pytest
from timebridge_providers.kit.credentials import Authorization
from timebridge_providers.kit.fakes.credentials import FakeCredentialSource

from timebridge_common.events import IntegrationSettings
from timebridge_ingest.domain.connections import Integration
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.handlers.connections import Connections
from timebridge_ingest.handlers.connections import TestResult as Verdict
from timebridge_ingest.handlers.oauth_connect import ConsentStarted, OAuthConnect

NOW = dt.datetime(2026, 12, 6, 9, tzinfo=dt.UTC)
XP = "xero_projects"
TENANT = "3f1c0c6e-6d43-4f0e-9d1e-2b9b8a1f0c11"


@dataclass
class States:
    kept: dict[str, ConsentStarted] = field(default_factory=dict)

    async def add(self, state_hash: str, started: ConsentStarted, expires_at: dt.datetime) -> None:
        self.kept[state_hash] = started

    async def spend(
        self, state_hash: str, provider: str, now: dt.datetime
    ) -> ConsentStarted | None:
        return self.kept.pop(state_hash, None)


@dataclass
class Owner(FakeCredentialSource):
    """Exchanges the code and completes the fields as the owner does (the organisation)."""

    given_extra: list[dict[str, str]] = field(default_factory=list)
    returned: list[dict[str, str]] = field(default_factory=list)

    async def authorization(
        self, provider: str, state: str, redirect_uri: str | None = None
    ) -> Authorization:
        return Authorization(authorize_url=f"http://xero.test/a?state={state}", redirect_uri="cb")

    async def exchange_code(
        self,
        workspace_id: str,
        connection_id: str,
        provider: str,
        code: str,
        redirect_uri: str,
        *,
        base_url: str = "",
        extra: Mapping[str, str] | None = None,
        returned: Mapping[str, str] | None = None,
    ) -> None:
        self.given_extra.append(dict(extra or {}))
        self.returned.append(dict(returned or {}))
        completed = {**(extra or {}), "tenant": TENANT}
        self.put(workspace_id, connection_id, "access", base_url=base_url, extra=completed)


class Tracker(Connections):
    def __init__(self) -> None:
        nothing = cast(Any, None)
        super().__init__(
            nothing, nothing, nothing, nothing, nothing, nothing,
            api_url=lambda p: f"http://{p}.test/api", public_base_url="http://ingest.test",
            clock=lambda: NOW,
        )  # fmt: skip
        self.tested: list[dict[str, str]] = []
        self.saved: list[Integration] = []

    async def test(
        self,
        provider: str,
        api_key: str,
        fields: Mapping[str, str] | None = None,
        *,
        base_url: str | None = None,
    ) -> Verdict:
        self.tested.append({**(fields or {}), "at": base_url or "?"})
        return Verdict(True, account={"user_id": TENANT})

    async def keep_connected(self, integration: Integration) -> Integration:
        self.saved.append(integration)
        return integration


async def test_the_organisation_is_left_to_the_consent_and_saved_as_completed() -> None:
    states, owner, tracker = States(), Owner(), Tracker()
    consent = OAuthConnect(tracker, states, owner, lambda: NOW)
    zone = {"timezone": "Pacific/Auckland"}
    started = await consent.start("ws-1", XP, "ann", IntegrationSettings(), zone)
    state = parse_qs(urlsplit(started.authorize_url).query)["state"][0]
    [kept] = states.kept.values()
    assert kept.fields == zone  # no placeholder for the organisation
    back = {"code": "c", "state": state, "location": "eu", "accounts-server": "https://a.test"}
    connected = await consent.complete(XP, back)
    assert owner.given_extra == [zone]
    # The callback's other parameters reach the owner (a data centre the consent named).
    assert owner.returned == [{"location": "eu", "accounts-server": "https://a.test"}]
    # Tested where the owner says the account is (here as configured), with the organisation.
    assert tracker.tested == [{**zone, "tenant": TENANT, "at": "http://xero_projects.test/api"}]
    assert connected.integration.extra == {**zone, "tenant": TENANT}
    with pytest.raises(RejectedError, match="needs the connection field timezone"):
        await consent.start("ws-1", XP, "ann", IntegrationSettings(), {})
    with pytest.raises(RejectedError, match="needs the connection field portal_id"):
        await consent.start("ws-1", "zoho", "ann", IntegrationSettings(), {"timezone": "UTC"})
