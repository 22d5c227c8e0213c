"""The sync-log API passes its filters through and refuses unknown statuses."""

import datetime as dt
from typing import Any

import httpx
from fastapi import FastAPI

from timebridge_reporting.domain.sync_log import SyncLogQuery
from timebridge_reporting.entrypoints.http import reports_router


class RecordingModels:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def sync_log(self, workspace_id: str, query: SyncLogQuery) -> list[dict[str, Any]]:
        self.calls.append({"workspace_id": workspace_id, **query.model_dump(exclude_none=True)})
        return [{"status": "error", "reason": "Everhour answered 429"}]


async def get(app: FastAPI, url: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        return await client.get(url)


async def test_filters_reach_the_read_model() -> None:
    models = RecordingModels()
    app = FastAPI()
    app.include_router(reports_router(models))  # type: ignore[arg-type]
    response = await get(
        app,
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
    app = FastAPI()
    app.include_router(reports_router(RecordingModels()))  # type: ignore[arg-type]
    assert (await get(app, "/v1/workspaces/acme/sync-log?status=bogus")).status_code == 422
    assert (await get(app, "/v1/workspaces/acme/sync-log?limit=0")).status_code == 422
    assert (await get(app, "/v1/workspaces/a%20b/sync-log")).status_code == 422
    assert (await get(app, "/v1/workspaces/acme/sync-log?colour=red")).status_code == 422
