"""Who logs time and what decides "billable": the organisation's project users (emails) and its
tasks' charge types, each read once per capability and kept, or (``per_credential``: a writer's
store, opened per change) once per credential for ``kit.listed.KEPT_S``, read again when one is
missing (added since)."""

from timebridge_providers.kit.listed import kept
from timebridge_providers.xero_projects.client import XeroProjectsClient
from timebridge_providers.xero_projects.wire import ProjectUser, Task


class Lookups:
    """The organisation's project users and the tasks seen, cached for one capability's life."""

    def __init__(
        self, client: XeroProjectsClient, zone: str, *, per_credential: bool = False
    ) -> None:
        self.client = client
        self.zone = zone
        self._per_credential = per_credential
        self._users: dict[str, ProjectUser] | None = None
        self._tasks: dict[tuple[str, str], Task] = {}

    async def user(self, user_id: str) -> ProjectUser | None:
        if self._users is None:
            self._users = await self._read_users(again=False)
        if user_id.lower() not in self._users and self._per_credential:
            self._users = await self._read_users(again=True)
        return self._users.get(user_id.lower())

    async def _read_users(self, *, again: bool) -> dict[str, ProjectUser]:
        if not self._per_credential:
            return {u.user_id.lower(): u for u in await self.client.users()}
        key = ("users", self.client.identity)
        users = await kept(self.client.budget, key, self.client.users, again=again)
        return {u.user_id.lower(): u for u in users}

    async def billable(self, project_id: str, task_id: str) -> bool:
        """The task is charged (``TIME``/``FIXED``); a task gone counts as not billable."""
        key = (project_id.lower(), task_id.lower())
        if key not in self._tasks:
            await self._read_tasks(project_id, again=False)
        if key not in self._tasks and self._per_credential:
            await self._read_tasks(project_id, again=True)
        found = self._tasks.get(key)
        return found is not None and found.billable

    async def _read_tasks(self, project_id: str, *, again: bool) -> None:
        if self._per_credential:
            key = ("tasks", self.client.identity, project_id.lower())
            read = lambda: self.client.tasks(project_id)  # noqa: E731
            tasks = await kept(self.client.budget, key, read, again=again)
        else:
            tasks = await self.client.tasks(project_id)
        for task in tasks:
            self._tasks[(project_id.lower(), task.task_id.lower())] = task
