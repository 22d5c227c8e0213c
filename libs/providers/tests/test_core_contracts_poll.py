"""Core's contracts by polling (the fallback to its webhooks), against the Core sandbox: every
contract first, then those changed since a time, as the same ``ContractObserved`` a webhook
gives (observed by poll); a member's token is refused."""

import datetime as dt

import httpx
import pytest
from timebridge_providers.core.client import CoreClient
from timebridge_providers.core.contracts_poll import CoreContractsPoll
from timebridge_providers.installed import registry

from timebridge_common.outbound.http import ProviderError, RequestBudget
from timebridge_sandboxes.core import CoreState, create_core_sandbox

WS, SERVICE, MEMBER = "acme", "core-service-token", "core-member-token"


def world() -> tuple[httpx.AsyncClient, CoreState, str]:
    state = CoreState()
    state.add_service_token(WS, SERVICE)
    state.add_user(WS, "Max", token=MEMBER)
    project = state.add_project(WS, "Website")
    app = create_core_sandbox(state)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://core.test")
    return http, state, project


def poll(http: httpx.AsyncClient, token: str) -> CoreContractsPoll:
    client = CoreClient("http://core.test", token, http=http, budget=RequestBudget(10**6, 1))
    return CoreContractsPoll(client)


async def test_all_contracts_then_those_changed_since() -> None:
    http, _, project = world()
    draft = {"title": "Website 2027", "client": {"id": "cu_1", "name": "Globex"},
             "currency": "EUR", "starts_on": "2027-01-01", "project_ids": [project]}  # fmt: skip
    first = (await http.post(f"/_sandbox/workspaces/{WS}/contracts", json=draft)).json()
    other = (await http.post(f"/_sandbox/workspaces/{WS}/contracts", json=draft)).json()
    source = poll(http, SERVICE)
    found = await source.contracts_changed(WS, None)
    assert [(c.external_id, c.status, c.observed_via) for c in found] == [
        (first["id"], "draft", "poll"),
        (other["id"], "draft", "poll"),
    ]
    assert (found[0].source, found[0].project_ids, found[0].client_name) == (
        "core",
        (project,),
        "Globex",
    )
    signed = (await http.post(f"/_sandbox/contracts/{first['id']}/sign")).json()
    since = dt.datetime.fromisoformat(signed["updated_at"])
    [changed] = await source.contracts_changed(WS, since)
    assert (changed.external_id, changed.status, changed.source_version) == (
        first["id"],
        "signed",
        2,
    )


async def test_a_members_token_is_refused() -> None:
    http, _, _ = world()
    with pytest.raises(ProviderError) as refused:
        await poll(http, MEMBER).contracts_changed(WS, None)
    assert refused.value.status == 403


def test_the_home_provider_offers_it() -> None:
    assert registry().home().commercial is not None
