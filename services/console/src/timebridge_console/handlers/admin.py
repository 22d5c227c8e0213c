"""What each page of the console asks of the services, as one signed-in admin of a workspace.

Use cases only compose calls to the public APIs (paths as the services document them at
``/docs``); every decision about rights and data stays in the services.
"""

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

from timebridge_console.adapters.api import Caller, Params, segment
from timebridge_console.domain.errors import ApiError
from timebridge_console.domain.providers import Catalog


@dataclass(frozen=True)
class IntegrationRow:
    integration: dict[str, Any]
    health: dict[str, Any] | None
    health_error: str | None
    connection: dict[str, Any] | None = None
    """Ingest's health of the connection (``status``: ``needs_reauthorisation``, ...)."""


class Admin:
    def __init__(self, caller: Caller, workspace_id: str) -> None:
        self._api = caller
        self.workspace_id = workspace_id
        self._ws = f"/v1/workspaces/{segment(workspace_id)}"

    def _integration(self, integration_id: str) -> str:
        return f"{self._ws}/integrations/{segment(integration_id)}"

    # The installed providers (mapping)

    async def providers(self) -> Catalog:
        """What is installed, from mapping's registry; empty (names shown as they are) if
        mapping cannot say, so a page never fails for want of a title."""
        try:
            listed: list[dict[str, Any]] = await self._api.get("mapping", f"{self._ws}/providers")
        except ApiError as exc:
            if exc.status in (401, 403):
                raise
            return Catalog(unavailable=str(exc))
        return Catalog.of(listed)

    # Settings > Integrations (ingest) and health (reporting)

    async def check_access(self) -> None:
        """Sign-in: the integrations API answers only the workspace's Core admins."""
        await self._api.get("ingest", f"{self._ws}/integrations")

    async def integrations(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._api.get("ingest", f"{self._ws}/integrations")
        return found

    async def overview(self) -> list[IntegrationRow]:
        """Every integration with its health, the health calls made concurrently."""
        found = await self.integrations()
        healths = await asyncio.gather(
            *(self.health(i["integration_id"]) for i in found), return_exceptions=True
        )
        connections = await asyncio.gather(
            *(self.connection_health(i["integration_id"]) for i in found),
            return_exceptions=True,
        )
        rows = []
        for integration, health, connection in zip(found, healths, connections, strict=True):
            seen = connection if isinstance(connection, dict) else None
            if isinstance(health, ApiError):
                rows.append(IntegrationRow(integration, None, str(health), seen))
            elif isinstance(health, BaseException):
                raise health
            else:
                rows.append(IntegrationRow(integration, health, None, seen))
        return rows

    async def integration(self, integration_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self._api.get("ingest", self._integration(integration_id))
        return found

    async def health(self, integration_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self._api.get(
            "reporting", f"{self._integration(integration_id)}/health"
        )
        return found

    async def connection_health(self, integration_id: str) -> dict[str, Any]:
        """Ingest's view: polls (a refused key: ``needs_reauthorisation``), webhook, waiting."""
        found: dict[str, Any] = await self._api.get(
            "ingest", f"{self._integration(integration_id)}/health"
        )
        return found

    async def retest(self, integration_id: str) -> dict[str, Any]:
        """Test Connection again with the saved key (nothing to paste)."""
        result: dict[str, Any] = await self._api.post(
            "ingest", f"{self._integration(integration_id)}/retest"
        )
        return result

    async def test_connection(
        self, provider: str, api_key: str, fields: dict[str, str] | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._api.post(
            "ingest",
            f"{self._ws}/integrations/{segment(provider)}/test",
            {"api_key": api_key, "fields": fields or {}},
        )
        return result

    async def start_consent(
        self,
        provider: str,
        settings: dict[str, str | None],
        fields: dict[str, str],
        *,
        history_from: dt.date | None = None,
    ) -> str:
        """Where to send the admin to consent to an OAuth tracker; ingest's callback then
        connects it (and starts the history import from ``history_from``) and sends the
        browser back to the integration's page."""
        body: dict[str, Any] = {"fields": fields, "settings": settings}
        if history_from is not None:
            body["history_from"] = history_from.isoformat()
        started: dict[str, Any] = await self._api.post(
            "ingest", f"{self._ws}/integrations/{segment(provider)}/oauth/start", body
        )
        return str(started["authorize_url"])

    async def connect(
        self,
        provider: str,
        api_key: str,
        settings: dict[str, str | None],
        fields: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        body = {
            "provider": provider,
            "api_key": api_key,
            "fields": fields or {},
            "settings": settings,
        }
        created: dict[str, Any] = await self._api.post("ingest", f"{self._ws}/integrations", body)
        return created

    async def update_settings(
        self, integration_id: str, settings: dict[str, str | None]
    ) -> dict[str, Any]:
        updated: dict[str, Any] = await self._api.patch(
            "ingest", self._integration(integration_id), {"settings": settings}
        )
        return updated

    async def disconnect(self, integration_id: str) -> None:
        await self._api.delete("ingest", self._integration(integration_id))

    # Project, user and task mapping (mapping)

    async def project_mappings(self, integration_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._api.get(
            "mapping", f"{self._integration(integration_id)}/project-mappings"
        )
        return found

    async def map_project(
        self, integration_id: str, core_project: str, tracker_project: str
    ) -> None:
        await self._api.put(
            "mapping",
            f"{self._integration(integration_id)}/project-mappings/{segment(core_project)}",
            {"tracker_project_id": tracker_project},
        )

    async def unmap_project(self, integration_id: str, core_project: str) -> None:
        await self._api.delete(
            "mapping",
            f"{self._integration(integration_id)}/project-mappings/{segment(core_project)}",
        )

    async def core_projects(self) -> list[dict[str, Any]] | None:
        """Core's projects (as invoice-export reads them from Core), for a dropdown; None if
        they cannot be listed now (the page then takes a typed id)."""
        try:
            found: list[dict[str, Any]] = await self._api.get(
                "invoice_export", f"{self._ws}/projects"
            )
        except ApiError as exc:
            if exc.status in (401, 403):
                raise
            return None
        return [p for p in found if not p.get("archived")] or None

    async def tracker_projects(self, integration_id: str) -> list[dict[str, Any]] | None:
        """The tracker's projects (mapping reads them from the tracker), for a dropdown; None
        if they cannot be listed now (the page then takes a typed id)."""
        return await self._listed(integration_id, "tracker-projects")

    async def tracker_tasks(self, integration_id: str) -> list[dict[str, Any]] | None:
        """The tasks of the tracker projects mapped, for a dropdown; None if none or they
        cannot be listed now (the page then takes a typed id)."""
        return await self._listed(integration_id, "tracker-tasks")

    async def _listed(self, integration_id: str, what: str) -> list[dict[str, Any]] | None:
        try:
            found: list[dict[str, Any]] = await self._api.get(
                "mapping", f"{self._integration(integration_id)}/{what}"
            )
        except ApiError as exc:
            if exc.status in (401, 403):
                raise
            return None
        return found or None

    async def users(self, integration_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self._api.get(
            "mapping", f"{self._integration(integration_id)}/user-mappings"
        )
        return found

    async def refresh_users(self, integration_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self._api.post(
            "mapping", f"{self._integration(integration_id)}/users/refresh"
        )
        return found

    async def map_user(self, integration_id: str, core_user: str, tracker_user: str) -> None:
        await self._api.put(
            "mapping",
            f"{self._integration(integration_id)}/user-mappings/{segment(core_user)}",
            {"tracker_user_id": tracker_user},
        )

    async def unmap_user(self, integration_id: str, core_user: str) -> None:
        await self._api.delete(
            "mapping", f"{self._integration(integration_id)}/user-mappings/{segment(core_user)}"
        )

    async def held_entries(self, integration_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._api.get(
            "mapping", f"{self._integration(integration_id)}/held-entries"
        )
        return found

    async def assign_held(
        self, integration_id: str, source: str, external_id: str, user_id: str
    ) -> dict[str, Any]:
        """Assign a held entry by hand: its person is mapped to ``user_id``, the queue released."""
        done: dict[str, Any] = await self._api.post(
            "mapping",
            f"{self._integration(integration_id)}/held-entries/{segment(source)}"
            f"/{segment(external_id)}/assignment",
            {"user_id": user_id},
        )
        return done

    async def task_links(self, integration_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._api.get(
            "mapping", f"{self._integration(integration_id)}/task-links"
        )
        return found

    async def link_task(self, integration_id: str, core_ticket: str, tracker_task: str) -> None:
        await self._api.put(
            "mapping",
            f"{self._integration(integration_id)}/task-links/{segment(core_ticket)}",
            {"tracker_task_id": tracker_task},
        )

    async def unlink_task(self, integration_id: str, core_ticket: str) -> None:
        await self._api.delete(
            "mapping", f"{self._integration(integration_id)}/task-links/{segment(core_ticket)}"
        )

    # Sync log (reporting) and conflicts (conflict-resolver)

    async def sync_log(self, filters: Params) -> list[dict[str, Any]]:
        """The sync log with the connections' changes of health in place (``kind``: ``entry``
        or ``connection``), so a refused key shows among the entries' outcomes."""
        found: list[dict[str, Any]] = await self._api.get(
            "reporting", f"{self._ws}/sync-log/timeline", params=filters
        )
        return found

    async def conflicts(self, integration_id: str, status: str = "open") -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._api.get(
            "conflict_resolver",
            f"{self._integration(integration_id)}/conflicts",
            params={"status": status},
        )
        return found

    async def resolve(self, conflict_id: str, keep: str) -> dict[str, Any]:
        outcome: dict[str, Any] = await self._api.post(
            "conflict_resolver",
            f"{self._ws}/conflicts/{segment(conflict_id)}/resolution",
            {"keep": keep},
        )
        return outcome
