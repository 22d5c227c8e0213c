"""Who may manage a workspace's integrations: its Core admins, as Core itself says.

Management requests carry the caller's own Core token (``Authorization: Bearer <token>``).
Timebridge keeps no user accounts: it asks the workspace's Core ``GET /me`` with that token and
requires ``role == "admin"`` in the same workspace. The answer is cached briefly per token, so a
page of the admin UI costs one Core call, and a revoked admin loses access within ``ttl_s``.
"""

import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from timebridge_common.api import WorkspaceIdPath
from timebridge_common.errors import TransientError
from timebridge_common.providers.core import CoreClient, CoreUser
from timebridge_common.providers.http import AuthenticationError, ProviderError

CoreBaseUrl = Callable[[str], Awaitable[str | None]]
"""workspace id -> the base URL of its Core API, or None if the workspace is not registered."""

_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


class WorkspaceAdmins:
    def __init__(
        self,
        core: Callable[[str, str], CoreClient],
        core_base_url: CoreBaseUrl,
        *,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._core = core
        self._core_base_url = core_base_url
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, CoreUser]] = {}

    async def require(self, workspace_id: WorkspaceIdPath, credentials: Credentials) -> CoreUser:
        """FastAPI dependency: the calling admin, or ``401``/``403``/``404``/``502``."""
        if credentials is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a Core user token is required")
        return await self.authorize(workspace_id, credentials.credentials)

    async def authorize(self, workspace_id: str, user_token: str) -> CoreUser:
        cache_key = (workspace_id, hashlib.sha256(user_token.encode()).hexdigest())
        cached = self._cache.get(cache_key)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        base_url = await self._core_base_url(workspace_id)
        if base_url is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"workspace {workspace_id!r} is not registered"
            )
        try:
            async with self._core(base_url, user_token) as core:
                me = await core.me()
        except AuthenticationError as exc:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "Core did not accept the token"
            ) from exc
        except (ProviderError, TransientError) as exc:
            raise HTTPException(
                status.HTTP_502_BAD_GATEWAY, f"Core could not check the token: {exc}"
            ) from exc
        if me.workspace_id != workspace_id or me.user.role != "admin":
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, "only the workspace's admins manage integrations"
            )
        self._cache[cache_key] = (self._clock() + self._ttl_s, me.user)
        return me.user
