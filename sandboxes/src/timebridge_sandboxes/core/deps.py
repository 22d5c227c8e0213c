"""The Core sandbox's request dependencies: the sandbox, the caller by bearer token, a limit."""

from typing import Annotated

from fastapi import Depends, Header, Query, Request

from timebridge_sandboxes.core.rules import _Sandbox
from timebridge_sandboxes.core.state import _User
from timebridge_sandboxes.faults import ApiError


def _sandbox(request: Request) -> _Sandbox:
    sandbox: _Sandbox = request.app.state.sandbox
    return sandbox


Sandbox = Annotated[_Sandbox, Depends(_sandbox)]


def _caller(sandbox: Sandbox, authorization: Annotated[str | None, Header()] = None) -> _User:
    scheme, _, token = (authorization or "").partition(" ")
    user_id = sandbox.state.tokens.get(token) if scheme.lower() == "bearer" else None
    if user_id is None:
        raise ApiError(401, "Missing or unknown bearer token")
    sandbox.limit.admit(token)
    return sandbox.state.users[user_id]


Caller = Annotated[_User, Depends(_caller)]
Limit = Annotated[int, Query(ge=1, le=200)]
