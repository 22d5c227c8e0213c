"""The Tempo sandbox's data and how it renders in Tempo Cloud's documented shapes (API v4).

Worklog ids are sequential integers; ``startDate``/``startTime`` are the author's local date and
time as given; ``createdAt``/``updatedAt`` are UTC (``2026-11-03T08:15:00Z``). A deleted worklog
is gone (Tempo keeps no tombstone a client can list).
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class User:
    account_id: str
    display_name: str
    email: str
    token: str
    timezone: str
    jira_token: str = ""
    """The user's Jira API token (Jira's basic auth: email + token)."""
    account_type: str = "atlassian"


@dataclass
class Project:
    """A Jira project."""

    id: int
    key: str
    name: str
    archived: bool = False


@dataclass
class Issue:
    """A Jira issue: what Jira's API shows of it."""

    id: int
    key: str
    summary: str
    project_id: int
    status: str = "To Do"
    category: str = "new"
    """The status category: ``new``, ``indeterminate`` or ``done``."""
    updated_at: dt.datetime = field(default_factory=now)


@dataclass
class Worklog:
    id: int
    issue_id: int
    author: str
    seconds: int
    billable_seconds: int
    start_date: dt.date
    start_time: dt.time
    description: str
    created_at: dt.datetime = field(default_factory=now)
    updated_at: dt.datetime = field(default_factory=now)
    approved: bool = False


@dataclass
class TempoState:
    users: dict[str, User] = field(default_factory=dict)
    issues: dict[int, str] = field(default_factory=dict)
    """Jira issues worklogs may be logged on: id -> key (``WEB-1``)."""
    worklogs: dict[int, Worklog] = field(default_factory=dict)
    projects: dict[int, Project] = field(default_factory=dict)
    jira_issues: dict[int, Issue] = field(default_factory=dict)
    """Jira's view of the issues (summary, project, status), by id."""
    page_cap: int | None = None
    """A smaller page size than asked for (tests of ``metadata.next``)."""
    _next: int = 5000

    def next_id(self) -> int:
        self._next += 1
        return self._next

    def reset(self) -> None:
        self.worklogs.clear()
        self.page_cap = None

    def add_user(
        self, account_id: str, name: str, email: str, token: str, zone: str, *, jira_token: str = ""
    ) -> User:
        user = User(account_id, name, email, token, zone, jira_token)
        self.users[account_id] = user
        return user

    def add_project(self, project_id: int, key: str, name: str) -> Project:
        project = self.projects[project_id] = Project(project_id, key, name)
        return project

    def add_issue(
        self, issue_id: int, key: str, summary: str = "", project_id: int | None = None
    ) -> Issue:
        """An issue worklogs may be logged on; in Jira, of ``project_id`` (default: by key)."""
        self.issues[issue_id] = key
        if project_id is None:
            prefix = key.split("-", maxsplit=1)[0]
            project_id = next((p.id for p in self.projects.values() if p.key == prefix), 0)
        issue = self.jira_issues[issue_id] = Issue(issue_id, key, summary or key, project_id)
        return issue

    def jira_user(self, email: str, token: str) -> User | None:
        return next(
            (u for u in self.users.values() if token and (u.email, u.jira_token) == (email, token)),
            None,
        )

    def next_issue_id(self) -> int:
        return max([*self.issues, 10000]) + 1

    def user_by_token(self, token: str) -> User | None:
        return next((u for u in self.users.values() if token and u.token == token), None)

    def worklog_json(self, base: str, worklog: Worklog) -> dict[str, Any]:
        return {
            "self": f"{base}/worklogs/{worklog.id}",
            "tempoWorklogId": worklog.id,
            "issue": {"self": f"{base}/issues/{worklog.issue_id}", "id": worklog.issue_id},
            "timeSpentSeconds": worklog.seconds,
            "billableSeconds": worklog.billable_seconds,
            "startDate": worklog.start_date.isoformat(),
            "startTime": worklog.start_time.strftime("%H:%M:%S"),
            "description": worklog.description,
            "createdAt": stamp(worklog.created_at),
            "updatedAt": stamp(worklog.updated_at),
            "author": {
                "self": f"{base}/users/{worklog.author}",
                "accountId": worklog.author,
            },
            "attributes": {"self": f"{base}/worklogs/{worklog.id}/work-attribute-values",
                           "values": []},
        }  # fmt: skip
