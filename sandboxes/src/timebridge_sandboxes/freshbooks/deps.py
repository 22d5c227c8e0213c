"""What the routes depend on: the sandbox, the caller's token and account, includes, listings."""

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Query, Request

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.freshbooks.rules import _Sandbox
from timebridge_sandboxes.freshbooks.state import (
    DEFAULT_PER_PAGE,
    EASTERN,
    MAX_PER_PAGE,
    Json,
    _Identity,
)


def _sandbox(request: Request) -> _Sandbox:
    sandbox: _Sandbox = request.app.state.sandbox
    return sandbox


Sandbox = Annotated[_Sandbox, Depends(_sandbox)]


def _caller(sandbox: Sandbox, authorization: Annotated[str | None, Header()] = None) -> _Identity:
    token = (authorization or "").removeprefix("Bearer ").strip()
    grant = sandbox.state.access_tokens.get(token)
    if grant is None or grant[1] <= sandbox.state.now():
        raise ApiError(401, "invalid_token: The request token failed to authenticate or validate.")
    sandbox.limit.admit(f"identity:{grant[0]}")
    return sandbox.state.identities[grant[0]]


Caller = Annotated[_Identity, Depends(_caller)]


def _account(caller: Caller, account_id: str) -> str:
    if account_id not in caller.memberships:
        raise ApiError(403, "The user has no access to this account.")
    return account_id


Account = Annotated[str, Depends(_account)]


Includes = Annotated[list[str], Query(alias="include[]")]


def _with_lines(include: Includes = []) -> bool:  # noqa: B006 - FastAPI copies query defaults
    """``include[]=lines``: invoices come without their lines unless asked for."""
    return "lines" in include


WithLines = Annotated[bool, Depends(_with_lines)]


@dataclass
class _Listing:
    """What FreshBooks' lists share: paging (page 0 is page 1, ``per_page`` silently capped,
    a page past the last empty) and the ``vis_state`` and ``updated`` (by day) filters."""

    page: Annotated[int, Query(ge=0)] = 1
    per_page: Annotated[int, Query(ge=1)] = DEFAULT_PER_PAGE
    vis_state: Annotated[int | None, Query(alias="search[vis_state]", ge=0, le=2)] = None
    updated_min: Annotated[dt.date | None, Query(alias="search[updated_min]")] = None
    updated_max: Annotated[dt.date | None, Query(alias="search[updated_max]")] = None

    def keeps(self, vis_state: int, updated: dt.datetime) -> bool:
        """Deleted records only when asked for; ``updated`` compared by day in US/Eastern."""
        day = updated.astimezone(EASTERN).date()
        return (
            (vis_state == self.vis_state if self.vis_state is not None else vis_state != 1)
            and (self.updated_min is None or day >= self.updated_min)
            and (self.updated_max is None or day < self.updated_max)
        )

    def answer(self, key: str, items: list[Json]) -> Json:
        per_page = min(self.per_page, MAX_PER_PAGE)
        page = max(self.page, 1)
        chosen = items[(page - 1) * per_page : page * per_page]
        pages = max(1, -(-len(items) // per_page))
        result = {"page": page, "pages": pages, "per_page": per_page, "total": len(items)}
        return {"response": {"result": {key: chosen, **result}}}


Listing = Annotated[_Listing, Depends()]
