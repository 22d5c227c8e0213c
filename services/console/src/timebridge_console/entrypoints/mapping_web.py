"""Project Mapping, User Mapping and Task Mapping of one integration (the mapping service's API)."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from timebridge_console.adapters.api import segment
from timebridge_console.domain.errors import ApiError
from timebridge_console.domain.session import Session
from timebridge_console.entrypoints.paths import Id, Ws
from timebridge_console.entrypoints.web import Refused, Web, redirect
from timebridge_console.handlers.admin import Admin

PAGES = {"projects": "Project mapping", "users": "User mapping", "tasks": "Task links"}


PREFIX = "/w/{workspace_id}/integrations/{integration_id}"


class MappingPages:
    """Show a mapping page; run a form's change and show the page again on a refusal."""

    def __init__(self, web: Web) -> None:
        self.web = web

    async def show(
        self,
        request: Request,
        session: Session,
        workspace_id: str,
        integration_id: str,
        page: str,
        *,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        admin = self.web.admin(session, workspace_id)
        integration = await admin.integration(integration_id)
        context: dict[str, Any] = {}
        if page == "projects":
            context["mappings"] = await admin.project_mappings(integration_id)
            context["core_projects"] = await admin.core_projects()
            context["tracker_projects"] = await admin.tracker_projects(integration_id)
        elif page == "users":
            context["users"] = await admin.users(integration_id)
            context["held"] = await admin.held_entries(integration_id)
        else:
            context["links"] = await admin.task_links(integration_id)
            context["tracker_tasks"] = await admin.tracker_tasks(integration_id)
        return self.web.page(
            request,
            f"mapping_{page}.html",
            session,
            status=status,
            workspace_id=workspace_id,
            integration=integration,
            provider_name=(await admin.providers()).label(integration["provider"]),
            error=error,
            title=PAGES[page],
            **context,
        )

    async def change(
        self,
        request: Request,
        session: Session,
        workspace_id: str,
        integration_id: str,
        *,
        page: str,
        action: Callable[[Admin, dict[str, str]], Awaitable[object]],
        notice: str | Callable[[object], str],
    ) -> Response:
        """Run a form's change; on a refusal show the page again with the service's reason.

        ``notice``: the notice's key, or a function of the action's result giving it."""
        fields = await self.web.form(request, session)
        try:
            done = await action(self.web.admin(session, workspace_id), fields)
        except Refused as exc:
            return await self.show(
                request, session, workspace_id, integration_id, page, error=exc.message, status=422
            )
        except ApiError as exc:
            if exc.status in (401, 403):
                raise
            return await self.show(
                request,
                session,
                workspace_id,
                integration_id,
                page,
                error=str(exc),
                status=exc.status if exc.status >= 400 else 503,
            )
        key = notice if isinstance(notice, str) else notice(done)
        url = f"/w/{workspace_id}/integrations/{segment(integration_id)}/{page}?notice={key}"
        return redirect(url, request)

    @staticmethod
    def required(fields: dict[str, str], name: str, label: str) -> str:
        value = fields.get(name, "").strip()
        if not value:
            raise Refused(422, f"Not saved: enter the {label}.")
        return value


def mapping_router(web: Web) -> APIRouter:
    """Project mapping and task links."""
    router = APIRouter(prefix=PREFIX)
    SignedIn = Annotated[Session, Depends(web.session)]
    pages = MappingPages(web)
    show, change, required = pages.show, pages.change, pages.required

    @router.get("/projects")
    async def projects(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        return await show(request, session, workspace_id, integration_id, "projects")

    @router.post("/projects")
    async def map_project(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        async def action(admin: Admin, fields: dict[str, str]) -> None:
            core = required(fields, "core_project_id", "Core project id")
            tracker = required(fields, "tracker_project_id", "tracker project id")
            await admin.map_project(integration_id, core, tracker)

        return await change(
            request,
            session,
            workspace_id,
            integration_id,
            page="projects",
            action=action,
            notice="mapped",
        )

    @router.post("/projects/unmap")
    async def unmap_project(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        async def action(admin: Admin, fields: dict[str, str]) -> None:
            core = required(fields, "core_project_id", "Core project id")
            await admin.unmap_project(integration_id, core)

        return await change(
            request,
            session,
            workspace_id,
            integration_id,
            page="projects",
            action=action,
            notice="unmapped",
        )

    @router.get("/tasks")
    async def tasks(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        return await show(request, session, workspace_id, integration_id, "tasks")

    @router.post("/tasks")
    async def link_task(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        async def action(admin: Admin, fields: dict[str, str]) -> None:
            ticket = required(fields, "core_ticket_id", "Core ticket id")
            task = required(fields, "tracker_task_id", "tracker task id")
            await admin.link_task(integration_id, ticket, task)

        return await change(
            request,
            session,
            workspace_id,
            integration_id,
            page="tasks",
            action=action,
            notice="mapped",
        )

    @router.post("/tasks/unlink")
    async def unlink_task(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        async def action(admin: Admin, fields: dict[str, str]) -> None:
            await admin.unlink_task(integration_id, required(fields, "core_ticket_id", "ticket"))

        return await change(
            request,
            session,
            workspace_id,
            integration_id,
            page="tasks",
            action=action,
            notice="unmapped",
        )

    return router


def users_router(web: Web) -> APIRouter:
    """User mapping: automatic matches, mapping by hand, held entries."""
    router = APIRouter(prefix=PREFIX)
    SignedIn = Annotated[Session, Depends(web.session)]
    pages = MappingPages(web)
    show, change, required = pages.show, pages.change, pages.required

    @router.get("/users")
    async def users(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        return await show(request, session, workspace_id, integration_id, "users")

    @router.post("/users")
    async def map_user(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        async def action(admin: Admin, fields: dict[str, str]) -> None:
            core = required(fields, "core_user_id", "Core team member")
            tracker = required(fields, "tracker_user_id", "tracker team member")
            await admin.map_user(integration_id, core, tracker)

        return await change(
            request,
            session,
            workspace_id,
            integration_id,
            page="users",
            action=action,
            notice="mapped",
        )

    @router.post("/users/unmap")
    async def unmap_user(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        async def action(admin: Admin, fields: dict[str, str]) -> None:
            await admin.unmap_user(integration_id, required(fields, "core_user_id", "user"))

        return await change(
            request,
            session,
            workspace_id,
            integration_id,
            page="users",
            action=action,
            notice="unmapped",
        )

    @router.post("/users/held/assign")
    async def assign_held(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        async def action(admin: Admin, fields: dict[str, str]) -> dict[str, Any]:
            source = required(fields, "source", "entry's system")
            entry = required(fields, "external_id", "entry")
            user = required(fields, "user_id", "person to assign the entry to")
            return await admin.assign_held(integration_id, source, entry, user)

        def notice(done: object) -> str:
            released = isinstance(done, dict) and done.get("released")
            return "assigned" if released else "assigned_held"

        return await change(
            request,
            session,
            workspace_id,
            integration_id,
            page="users",
            action=action,
            notice=notice,
        )

    @router.post("/users/refresh")
    async def refresh_users(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        async def action(admin: Admin, _: dict[str, str]) -> None:
            await admin.refresh_users(integration_id)

        return await change(
            request,
            session,
            workspace_id,
            integration_id,
            page="users",
            action=action,
            notice="refreshed",
        )

    return router
