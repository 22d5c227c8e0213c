"""A tracker's connection fields are all its capabilities need besides the credential.

Ingest hands a session exactly the fields the profile names (``Access.extra``); a key a client
requires but the profile does not name could never be entered, so the connection could not be
made (regression: ClickUp's ``team_id`` and Hubstaff's ``organization_id`` were required but not
named, Clockify's ``workspace_id`` was left empty in every path and Toggl's was 0).
"""

import httpx
import pytest
from timebridge_providers.installed import registry
from timebridge_providers.kit.session import Access, Session
from timebridge_providers.toggl import client

from timebridge_common.outbound.http import RequestBudget
from timebridge_sandboxes.toggl import create_toggl_sandbox, demo_toggl

TRACKERS = registry().names("tracker")


@pytest.mark.parametrize("name", TRACKERS)
async def test_the_connection_fields_open_every_capability(name: str) -> None:
    provider = registry().get(name)
    profile = provider.profile
    extra = {key: f"given-{key}" for key in profile.connection_fields}
    async with httpx.AsyncClient() as http:
        session = Session(
            name, Access(profile.default_base_url, "credential", extra), http, RequestBudget(10, 1)
        )
        opened = [
            factory(session)
            for factory in (provider.entries, provider.directory, provider.report, provider.observe)
            if factory is not None
        ]
    assert opened


def test_clockify_names_the_workspace_every_path_is_under() -> None:
    assert "workspace_id" in registry().get("clockify").profile.connection_fields


async def test_toggl_without_a_workspace_works_in_the_users_default_one() -> None:
    """Toggl's workspace is optional (the token user's default): left at 0, every path named
    workspace 0 and the first project look-up was refused 403."""
    state = demo_toggl("default-ws-token", "default-ws-member")
    app = create_toggl_sandbox(state)
    project = str(next(iter(state.projects)))
    provider = registry().get("toggl")
    assert provider.directory is not None
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport) as http:
        access = Access(provider.profile.default_base_url, "default-ws-token", {})
        session = Session("toggl", access, http, RequestBudget(100, 1))
        names = {p.external_id: p.name async for p in provider.directory(session).projects()}
        assert names[project] == "Website"
        assert await client(session).workspace() == state.workspace_id
