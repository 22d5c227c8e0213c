"""The sync-log API: only the workspace's Core admins read it; it passes its filters through and
refuses unknown ones. Core's sandbox answers the admin check (``GET /me``)."""

import datetime as dt
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from timebridge_providers.core.client import CoreClient

from timebridge_common.auth import WorkspaceAdmins
from timebridge_reporting.domain.sync_log import SyncLogQuery
from timebridge_reporting.entrypoints.http import reports_router
from timebridge_sandboxes.core import CoreState, create_core_sandbox
from timebridge_sandboxes.faults import RateLimit

ADMIN, MEMBER, OTHER_ADMIN = "ct-admin-acme", "ct-member-acme", "ct-admin-globex"


class RecordingModels:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def sync_log(self, workspace_id: str, query: SyncLogQuery) -> list[dict[str, Any]]:
        self.calls.append({"workspace_id": workspace_id, **query.model_dump(exclude_none=True)})
        return [{"status": "error", "reason": "Everhour answered 429"}]

    async def entry_status(
        self, workspace_id: str, source: str, external_id: str
    ) -> list[dict[str, Any]]:
        self.calls.append({"workspace_id": workspace_id, "entry": external_id})
        return []


def admins() -> WorkspaceAdmins:
    core = CoreState()
    for workspace in ("acme", "globex"):
        core.add_user(workspace, "Ann", role="admin", token=f"ct-admin-{workspace}")
    core.add_user("acme", "Max", role="member", token=MEMBER)
    app = create_core_sandbox(core, rate_limit=RateLimit(10_000, 1))

    def client(base_url: str, token: str) -> CoreClient:
        return CoreClient(
            base_url, token, http=httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
        )

    async def base_url(workspace_id: str) -> str | None:
        return "http://core.sandbox" if workspace_id in {"acme", "globex"} else None

    return WorkspaceAdmins(client, base_url)


def reporting(models: RecordingModels) -> FastAPI:
    app = FastAPI()
    app.include_router(reports_router(models, admins()))  # type: ignore[arg-type]
    return app


async def get(app: FastAPI, url: str, token: str | None = ADMIN) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        return await client.get(url, headers=headers)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/workspaces/acme/sync-log",
        "/v1/workspaces/acme/entries/core/te_1/sync-status",
        "/v1/workspaces/acme/integrations/int_1/health",
    ],
)
async def test_only_the_workspaces_core_admins_read_it(path: str) -> None:
    models = RecordingModels()
    app = reporting(models)
    answers = [
        (await get(app, path, token)).status_code
        for token in (None, "ct-unknown", MEMBER, OTHER_ADMIN)
    ]
    assert answers == [401, 401, 403, 403]
    assert models.calls == []
    assert (await get(app, "/v1/workspaces/nowhere/sync-log")).status_code == 404


async def test_filters_reach_the_read_model() -> None:
    models = RecordingModels()
    response = await get(
        reporting(models),
        "/v1/workspaces/acme/sync-log?status=error&integration_id=int_1"
        "&since=2026-11-01T00:00:00Z&limit=5&user=ann@acme.test&entry=te_1",
    )
    assert response.status_code == 200
    assert response.json() == [{"status": "error", "reason": "Everhour answered 429"}]
    assert models.calls == [
        {
            "workspace_id": "acme",
            "integration_id": "int_1",
            "status": "error",
            "since": dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
            "entry": "te_1",
            "user": "ann@acme.test",
            "limit": 5,
        }
    ]


async def test_bad_filters_are_refused() -> None:
    app = reporting(RecordingModels())
    assert (await get(app, "/v1/workspaces/acme/sync-log?status=bogus")).status_code == 422
    assert (await get(app, "/v1/workspaces/acme/sync-log?limit=0")).status_code == 422
    assert (await get(app, "/v1/workspaces/a%20b/sync-log")).status_code == 422
    assert (await get(app, "/v1/workspaces/acme/sync-log?colour=red")).status_code == 422
