"""Xero's own Python SDK (xero-python's ``ProjectApi``) against the Xero Projects sandbox, over
real HTTP, every exchange validated against ``xero-projects.yaml``: what a developer using
Xero's SDK would send (its serialisation of dates, its query parameters, its
``Idempotency-Key``) is accepted and answered in shapes the SDK reads back.
"""

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest
from xero_python.api_client import ApiClient, Configuration  # type: ignore[import-untyped]
from xero_python.api_client.oauth2 import OAuth2Token  # type: ignore[import-untyped]
from xero_python.exceptions import ApiException  # type: ignore[import-untyped]
from xero_python.project import ProjectApi  # type: ignore[import-untyped]
from xero_python.project.models import (  # type: ignore[import-untyped]
    TimeEntryCreateOrUpdate,
)

from timebridge_sandboxes.testing import provider_specs, serve_in_thread
from timebridge_sandboxes.xero_projects import create_xero_projects_sandbox, demo_xero_projects
from timebridge_sandboxes.xero_projects.spec import SPEC_NAME, SpecRecorder, xero_projects_openapi
from timebridge_sandboxes.xero_projects.state import XeroProjectsState


@pytest.fixture
def world() -> Iterator[tuple[ProjectApi, XeroProjectsState, SpecRecorder]]:
    if not (provider_specs() / SPEC_NAME).exists():
        pytest.skip(f"the provider specs are not at {provider_specs()}")
    state, tokens = demo_xero_projects("sdk-ann-signature", "sdk-max-signature")
    host = "http://xero-projects.test"
    recorder = SpecRecorder(
        create_xero_projects_sandbox(state), xero_projects_openapi(provider_specs(), host), host
    )
    with serve_in_thread(recorder) as base:
        # xero-python keeps the first Configuration ever built as a default and hands out
        # copies of it, ignoring later arguments: forget it, so this one's credentials count.
        Configuration.set_default(None)
        client = ApiClient(
            Configuration(oauth2_token=OAuth2Token(client_id="sdk", client_secret="sdk")),
            pool_threads=1,
        )
        token: dict[str, Any] = {
            "access_token": tokens["ann@example.com"],
            "refresh_token": "unused",
            "token_type": "Bearer",
            "expires_in": 1800,
            "expires_at": time.time() + 1800,
            "scope": ["projects", "offline_access"],
        }
        client.oauth2_token_getter(lambda: token)
        client.oauth2_token_saver(token.update)
        yield ProjectApi(client, base_url=f"{base}/projects.xro/2.0"), state, recorder


def test_the_sdk_lists_logs_changes_and_deletes_time(
    world: tuple[ProjectApi, XeroProjectsState, SpecRecorder],
) -> None:
    api, state, recorder = world
    tenant = state.tenant_id
    users = api.get_project_users(tenant)
    ann = next(u for u in users.items if u.email == "ann@example.com")
    [project] = api.get_projects(tenant, states="INPROGRESS").items
    tasks = api.get_tasks(tenant, project.project_id).items
    task = next(t for t in tasks if t.name == "Fix the login page")
    assert task.charge_type.value == "TIME"
    logged = dt.datetime(2026, 11, 3, 8, 15, tzinfo=dt.UTC)
    body = TimeEntryCreateOrUpdate(
        user_id=ann.user_id,
        task_id=task.task_id,
        date_utc=logged,
        duration=90,
        description="from the SDK",
    )
    made = api.create_time_entry(tenant, project.project_id, body, idempotency_key="sdk-1")
    again = api.create_time_entry(tenant, project.project_id, body, idempotency_key="sdk-1")
    assert made.time_entry_id == again.time_entry_id, "the same Idempotency-Key, the same entry"
    assert len(state.entries) == 1
    assert made.duration == 90
    assert made.date_utc.astimezone(dt.UTC) == logged
    listed = api.get_time_entries(
        tenant,
        project.project_id,
        date_after_utc=logged - dt.timedelta(days=1),
        date_before_utc=logged + dt.timedelta(days=1),
        page_size=50,
    )
    assert [e.time_entry_id for e in listed.items] == [made.time_entry_id]
    body.description = "edited with the SDK"
    api.update_time_entry(tenant, project.project_id, made.time_entry_id, body)
    read = api.get_time_entry(tenant, project.project_id, made.time_entry_id)
    assert read.description == "edited with the SDK"
    state.entries[str(made.time_entry_id)].status = "INVOICED"
    with pytest.raises(ApiException) as refused:
        api.update_time_entry(tenant, project.project_id, made.time_entry_id, body)
    assert refused.value.status == 400
    state.entries[str(made.time_entry_id)].status = "ACTIVE"
    api.delete_time_entry(tenant, project.project_id, made.time_entry_id)
    assert state.entries == {}
    assert recorder.checked >= 10
    assert recorder.problems == [], "\n".join(recorder.problems)
