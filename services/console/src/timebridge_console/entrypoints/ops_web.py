"""Ops: dead-letter topics with the reasons their letters failed, replay, consumer lag."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from timebridge_console.adapters.api import segment
from timebridge_console.domain.errors import ApiError
from timebridge_console.domain.session import Session
from timebridge_console.entrypoints.paths import Ws
from timebridge_console.entrypoints.web import Web, redirect
from timebridge_console.handlers.ops import Ops

Topic = Annotated[str, Path(pattern=r"^[a-z0-9][A-Za-z0-9.-]{0,200}$")]


def ops_router(web: Web) -> APIRouter:
    router = APIRouter(prefix="/w/{workspace_id}/ops")
    SignedIn = Annotated[Session, Depends(web.session)]

    def api(session: Session, workspace_id: str) -> Ops:
        assert session.token is not None
        return Ops(web.apis.as_user(session.token), workspace_id)

    @router.get("")
    async def overview(request: Request, workspace_id: Ws, session: SignedIn) -> Response:
        ops = api(session, workspace_id)
        return web.page(
            request,
            "ops.html",
            session,
            workspace_id=workspace_id,
            topics=await ops.topics(),
            lag=await ops.lag(),
            title="Operations",
        )

    async def show(
        request: Request,
        session: Session,
        workspace_id: str,
        topic: str,
        *,
        outcome: dict[str, list[str]] | None = None,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        return web.page(
            request,
            "ops_topic.html",
            session,
            status=status,
            workspace_id=workspace_id,
            topic=topic,
            letters=await api(session, workspace_id).letters(topic),
            outcome=outcome,
            error=error,
            title=f"Dead letters of {topic}",
        )

    @router.get("/dead-letters/{topic}")
    async def letters(
        request: Request, workspace_id: Ws, topic: Topic, session: SignedIn
    ) -> Response:
        return await show(request, session, workspace_id, topic)

    @router.post("/dead-letters/{topic}/replay")
    async def replay(
        request: Request, workspace_id: Ws, topic: Topic, session: SignedIn
    ) -> Response:
        fields = await web.form(request, session)
        letter = fields.get("letter", "")
        try:
            outcome = await api(session, workspace_id).replay(
                topic,
                [letter] if letter else [],
                everything=not letter,
                include_invalid=bool(fields.get("include_invalid")),
            )
        except ApiError as exc:
            if exc.status in (401, 403):
                raise
            return await show(
                request,
                session,
                workspace_id,
                topic,
                error=str(exc),
                status=exc.status if exc.status >= 400 else 503,
            )
        replayed, held = len(outcome["replayed"]), len(outcome["held_back"])
        url = (
            f"/w/{workspace_id}/ops/dead-letters/{segment(topic)}"
            f"?replayed={replayed}&held_back={held}"
        )
        return redirect(url, request)

    return router
