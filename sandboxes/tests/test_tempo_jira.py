"""What Tempo's directory adds through Jira Cloud (against the sandbox's Jira API v3): people
only, with their emails; issues as tasks (key, link, done = closed) over several search pages;
a created task is a Jira Task with an ADF description; the connection test refuses a Jira token
of another account and a key without a Jira token; Jira's own error shape."""

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from timebridge_providers.kit.ports.directory import Directory

from timebridge_common.outbound.http import AuthenticationError, NotFoundError
from timebridge_sandboxes.tempo.jira import MAX_RESULTS

from .test_tempo_conformance import BASE, Built, tempo_rig, tempo_token


@pytest.fixture
async def built() -> AsyncIterator[Built]:
    made = await tempo_rig()
    yield made
    await made.http.aclose()


def directory(built: Built) -> Directory:
    rig = built.rig
    assert rig.provider.directory is not None
    return rig.provider.directory(rig.session())


async def test_people_only_with_their_emails(built: Built) -> None:
    bot = built.state.add_user("557058:bot", "Automation", "", "", "UTC")
    bot.account_type = "app"
    users = {u.external_id: u for u in await directory(built).users()}
    assert "557058:bot" not in users
    assert {u.email for u in users.values()} == {"ann@example.com", "max@example.com"}


async def test_issues_are_tasks_across_search_pages(built: Built) -> None:
    for n in range(MAX_RESULTS + 20):
        built.state.add_issue(20000 + n, f"WEB-{100 + n}", f"Task {n}")
    built.state.jira_issues[10002].category = "done"
    tasks = [t async for t in directory(built).tasks("10000")]
    assert len(tasks) == MAX_RESULTS + 22
    assert len({t.external_id for t in tasks}) == len(tasks)
    login = next(t for t in tasks if t.external_id == "10001")
    assert (login.name, login.description, login.project_ids) == (
        "Fix the login page", "WEB-1", ("10000",)
    )  # fmt: skip
    assert login.url == f"{BASE}/browse/WEB-1"
    assert not login.closed
    assert isinstance(login.updated_at, dt.datetime)
    assert next(t for t in tasks if t.external_id == "10002").closed
    with pytest.raises(NotFoundError):
        await directory(built).task("99999")
    with pytest.raises(NotFoundError):
        await directory(built).project("NOPE")


async def test_a_created_task_is_a_jira_task(built: Built) -> None:
    made = await directory(built).create_task("10000", name="Write the docs", description="why")
    issue = built.state.jira_issues[int(made.external_id)]
    assert (issue.summary, issue.project_id, made.description) == (
        "Write the docs", 10000, issue.key
    )  # fmt: skip
    assert made.external_id in [t.external_id async for t in directory(built).tasks("10000")]


async def test_the_check_refuses_a_jira_token_of_another_account(built: Built) -> None:
    rig = built.rig
    max_ = next(u for u in built.state.users.values() if u.email == "max@example.com")
    extra = {**rig.extra, "jira_email": max_.email}
    key = f"{tempo_token(rig)}|{max_.jira_token}"
    plain = rig.session()
    session = replace(plain, access=replace(plain.access, credential=key, extra=extra))
    with pytest.raises(AuthenticationError) as refused:
        await rig.provider.check(session)
    assert max_.account_id in str(refused.value)
    account = await rig.provider.check(rig.session())
    assert (account.name, account.email) == ("Ann Admin", "ann@example.com")


async def test_a_key_without_a_jira_token_cannot_read_the_directory(built: Built) -> None:
    rig = built.rig
    plain = rig.session()
    session = replace(plain, access=replace(plain.access, credential=tempo_token(rig)))
    assert rig.provider.directory is not None
    with pytest.raises(AuthenticationError, match="no Jira API token"):
        await rig.provider.directory(session).users()


async def test_jiras_error_shape(built: Built) -> None:
    answer = await built.http.get(
        f"{BASE}/rest/api/3/myself", auth=httpx.BasicAuth("ann@example.com", "wrong")
    )
    assert answer.status_code == 401
    assert answer.json()["errorMessages"]
    bad = await built.http.post(
        f"{BASE}/rest/api/3/issue",
        json={"fields": {"project": {"id": "10000"}, "summary": "x", "description": "plain"}},
        auth=httpx.BasicAuth("ann@example.com", built.rig.credential.partition("|")[2]),
    )
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"issuetype", "description"}
