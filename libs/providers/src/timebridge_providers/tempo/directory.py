"""Tempo's directory, read from Jira Cloud: people, projects, and issues as tasks.

A worklog names its author by Jira ``accountId`` and its work by Jira issue id, so those are the
directory's ids: users match Core's by email (where Jira shows it), a task is an issue (its key in
the name's place a person looks, ``<site>/browse/<KEY>``), closed once its status category is
``done``. A created task is a Jira Task in the project.
"""

from collections.abc import AsyncIterator

from timebridge_providers.kit.ports.directory import (
    DirectoryProject,
    DirectoryTask,
    DirectoryUser,
)
from timebridge_providers.tempo.jira import JiraClient, JiraIssue, JiraProject


def _project(project: JiraProject) -> DirectoryProject:
    return DirectoryProject(project.id, project.name, closed=project.archived)


class TempoDirectory:
    def __init__(self, jira: JiraClient) -> None:
        self._jira = jira

    def _task(self, issue: JiraIssue) -> DirectoryTask:
        fields = issue.fields
        category = fields.status.statusCategory if fields.status else None
        return DirectoryTask(
            issue.id,
            fields.summary or issue.key,
            (fields.project.id,) if fields.project else (),
            closed=category is not None and category.key == "done",
            description=issue.key,
            status=fields.status.name if fields.status else None,
            url=f"{self._jira.site}/browse/{issue.key}",
            updated_at=issue.updated_at(),
        )

    async def users(self) -> list[DirectoryUser]:
        """People only (``accountType`` ``atlassian``; apps and service-desk customers left out)."""
        return [
            DirectoryUser(u.accountId, u.emailAddress, u.displayName, u.active)
            async for u in self._jira.users()
            if u.accountType == "atlassian"
        ]

    async def projects(self) -> AsyncIterator[DirectoryProject]:
        async for project in self._jira.projects():
            yield _project(project)

    async def project(self, project_id: str) -> DirectoryProject:
        return _project(await self._jira.project(project_id))

    async def tasks(self, project_id: str) -> AsyncIterator[DirectoryTask]:
        async for issue in self._jira.issues(project_id):
            yield self._task(issue)

    async def task(self, task_id: str) -> DirectoryTask:
        return self._task(await self._jira.issue(task_id))

    async def create_task(
        self, project_id: str, *, name: str, description: str | None = None
    ) -> DirectoryTask:
        created = await self._jira.create_issue(project_id, name, description or "")
        return await self.task(created)
