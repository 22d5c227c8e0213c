"""Workspace admins as Core says: the shared check of ingest's and mapping's management APIs."""

import httpx
import pytest
from fastapi import HTTPException
from timebridge_providers.core.client import CoreClient

from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.outbound.http import RequestBudget, RetryPolicy
from timebridge_sandboxes.core import CoreState, create_core_sandbox
from timebridge_sandboxes.faults import Faults
from timebridge_sandboxes.testing import Traffic

CORE_URL = "http://core.test"


class World(Traffic):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.faults = Faults()
        state = CoreState()
        state.add_user("acme", "Ann", role="admin", token="ann-token")
        state.add_user("acme", "Max", role="member", token="max-token")
        state.add_user("other", "Olga", role="admin", token="olga-token")
        self.sandbox = create_core_sandbox(state, self.faults)

    def core(self, base_url: str, token: str) -> CoreClient:
        return CoreClient(
            base_url,
            token,
            http=self.recording_client(httpx.ASGITransport(self.sandbox)),
            budget=RequestBudget(100, 1.0),
            retry=RetryPolicy(max_attempts=1),
        )

    def admins(self) -> WorkspaceAdmins:
        async def core_base_url(workspace_id: str) -> str | None:
            return CORE_URL if workspace_id in {"acme", "other"} else None

        return WorkspaceAdmins(self.core, core_base_url, ttl_s=60, clock=lambda: self.now)


async def refusal(admins: WorkspaceAdmins, workspace_id: str, token: str) -> int:
    with pytest.raises(HTTPException) as caught:
        await admins.authorize(workspace_id, token)
    return caught.value.status_code


async def test_an_admin_is_let_in_and_core_asked_once_per_ttl() -> None:
    world = World()
    admins = world.admins()
    assert (await admins.authorize("acme", "ann-token")).name == "Ann"
    assert (await admins.authorize("acme", "ann-token")).name == "Ann"
    assert len(world.sent) == 1
    world.now = 61
    await admins.authorize("acme", "ann-token")
    assert [r.url.path for r in world.sent] == ["/me", "/me"]


async def test_everyone_else_is_refused_with_the_reason() -> None:
    world = World()
    admins = world.admins()
    assert await refusal(admins, "acme", "max-token") == 403
    assert await refusal(admins, "acme", "olga-token") == 403
    assert await refusal(admins, "acme", "no-such-token") == 401
    assert await refusal(admins, "unregistered", "ann-token") == 404
    world.faults.fail_next(1)
    assert await refusal(admins, "acme", "ann-token") == 502
    assert await admins.authorize("acme", "ann-token")
