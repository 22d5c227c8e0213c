"""What every Everhour route depends on: the sandbox behind the app, and the caller (by
``X-Api-Key``, within the per-key rate limit)."""

from typing import Annotated

from fastapi import Depends, Header, Request

from timebridge_sandboxes.everhour.rules import _Sandbox
from timebridge_sandboxes.everhour.state import _User
from timebridge_sandboxes.faults import ApiError


def _sandbox(request: Request) -> _Sandbox:
    sandbox: _Sandbox = request.app.state.sandbox
    return sandbox


Sandbox = Annotated[_Sandbox, Depends(_sandbox)]


def _caller(sandbox: Sandbox, x_api_key: Annotated[str | None, Header()] = None) -> _User:
    user = sandbox.state.user_by_key(x_api_key)
    if user is None:
        raise ApiError(401, "Invalid API key")
    sandbox.limit.admit(user.api_key)
    return user


Caller = Annotated[_User, Depends(_caller)]
