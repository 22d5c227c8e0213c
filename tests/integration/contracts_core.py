"""The Core side of the contracts test: the Core sandbox whose signed webhooks go to ingest.

Ingest runs without its database (secrets and replay window in memory) and without its
consumers: its broker is only connected to publish, so the contracts test pays for no group
joins or migrations, yet a contract signed in Core's UI reaches the contracts service through
ingest's real webhook path and the real Kafka.
"""

import contextlib
import dataclasses
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from timebridge_common.crypto import SecretBox
from timebridge_common.testing import in_memory_tracing
from timebridge_ingest.bootstrap import bootstrap as bootstrap_ingest
from timebridge_ingest.config import Settings as IngestSettings
from timebridge_sandboxes.core import CoreState, Subscription, Webhooks, create_core_sandbox
from timebridge_sandboxes.faults import RateLimit

from .conftest import kafka_config
from .credential_owner import OWNER_SETTINGS

HOOK_SECRET = "core-hook-secret-" * 3


class HookSecrets:
    """Ingest's webhook secrets in memory."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    async def get(self, workspace_id: str, source: str) -> str | None:
        return self.values.get((workspace_id, source))

    async def put(self, workspace_id: str, source: str, secret: str) -> None:
        self.values[(workspace_id, source)] = secret


@dataclasses.dataclass(frozen=True)
class CoreSide:
    """The Core sandbox app, its admin API, its data and its webhook sender (posting to ingest)."""

    app: FastAPI
    http: httpx.AsyncClient
    state: CoreState
    hooks: Webhooks
    workspace: str

    async def sign_contract(self) -> tuple[str, str]:
        """A contract (and the project it covers) drafted and signed in Core's UI, both webhooks
        answered 202 by ingest: the contract's and the project's ids."""
        ws = self.workspace
        project_id = self.state.add_project(ws, "Retainer work")
        draft = await self.http.post(f"/_sandbox/workspaces/{ws}/contracts", json={
            "title": "Retainer", "client": {"id": "cu_1", "name": "Initech"}, "currency": "EUR",
            "starts_on": "2027-02-01", "project_ids": [project_id]})  # fmt: skip
        assert draft.status_code == 201, draft.text
        contract_id: str = draft.json()["id"]
        signed = await self.http.post(f"/_sandbox/contracts/{contract_id}/sign")
        assert signed.status_code == 200, signed.text
        await self.hooks.drain()
        answers = [(d.payload["type"], d.answers) for d in self.state.deliveries]
        assert answers == [("contract.changed", [202]), ("contract.signed", [202])]
        return contract_id, project_id


@contextlib.asynccontextmanager
async def core_through_ingest(state: CoreState, workspace: str) -> AsyncIterator[CoreSide]:
    secrets = HookSecrets()
    await secrets.put(workspace, "core", HOOK_SECRET)
    ingest = bootstrap_ingest(
        IngestSettings(
            kafka=kafka_config(),
            encryption_key=SecretBox.generate_key(),
            admin_token="unused-here" * 3,
            **OWNER_SETTINGS,  # required; this ingest keeps no connection (no database)
        ),
        secrets=secrets,
        tracer_provider=in_memory_tracing("ingest")[0],
    )
    hooks = Webhooks(transport=httpx.ASGITransport(app=ingest.app), attempts=1)
    app = create_core_sandbox(state, rate_limit=RateLimit(10_000, 1), webhooks=hooks)
    state.webhooks[workspace] = Subscription(
        f"http://ingest/v1/webhooks/core/{workspace}", HOOK_SECRET
    )
    await ingest.runtime.broker.connect()  # publishing only: none of ingest's consumers
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://core") as http:
            yield CoreSide(app, http, state, hooks, workspace)
    finally:
        await ingest.runtime.broker.stop()
