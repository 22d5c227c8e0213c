"""Who logs time and what decides "billable": the organisation's project users (emails) and its
tasks' charge types, each read once per capability and kept."""

from timebridge_providers.xero_projects.client import XeroProjectsClient
from timebridge_providers.xero_projects.wire import ProjectUser, Task


class Lookups:
    """The organisation's project users and the tasks seen, cached for one capability's life."""

    def __init__(self, client: XeroProjectsClient, zone: str) -> None:
        self.client = client
        self.zone = zone
        self._users: dict[str, ProjectUser] | None = None
        self._tasks: dict[tuple[str, str], Task] = {}

    async def user(self, user_id: str) -> ProjectUser | None:
        if self._users is None:
            self._users = {u.user_id.lower(): u for u in await self.client.users()}
        return self._users.get(user_id.lower())

    async def billable(self, project_id: str, task_id: str) -> bool:
        """The task is charged (``TIME``/``FIXED``); a task gone counts as not billable."""
        key = (project_id.lower(), task_id.lower())
        if key not in self._tasks:
            for task in await self.client.tasks(project_id):
                self._tasks[(project_id.lower(), task.task_id.lower())] = task
        found = self._tasks.get(key)
        return found is not None and found.billable
