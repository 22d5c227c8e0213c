"""Who may manage a workspace's integrations: its Core admins, as Core itself says.

Management requests carry the caller's own Core token (``Authorization: Bearer <token>``).
Timebridge keeps no user accounts: it asks the workspace's Core ``GET /me`` with that token and
requires ``role == "admin"`` in the same workspace. The answer is cached briefly per token, so a
page of the admin UI costs one Core call, and a revoked admin loses access within ``ttl_s``.

The platform operator (who registers workspaces with ingest) is the other principal: one token
from the settings (``TB_ADMIN_TOKEN``), :class:`PlatformAdmin`. Both are ``Authorization:
Bearer`` schemes with their own names in the OpenAPI documents (``CoreAdminToken``,
``PlatformAdminToken``), from which the documents' 401/403 answers are derived.
"""

import hashlib
import hmac
import re
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Protocol

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from timebridge_common.api import WorkspaceIdPath
from timebridge_common.errors import TransientError
from timebridge_common.http_errors import CORE_ADMIN_SCHEME, PLATFORM_ADMIN_SCHEME
from timebridge_common.outbound.http import AuthenticationError, ProviderError


class Caller(Protocol):
    """A user as the home system (Core) describes them."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def role(self) -> str: ...


class WhoAmI(Protocol):
    """The home system's answer to "who is this token?" (Core's ``GET /me``)."""

    @property
    def workspace_id(self) -> str: ...
    @property
    def user(self) -> Caller: ...


class IdentityClient(AbstractAsyncContextManager["IdentityClient"], Protocol):
    """What this module needs of the home system's client: only ``me()``.

    A protocol rather than the Core client itself, so ``libs/common`` names no provider package.
    """

    async def me(self) -> WhoAmI: ...


CoreBaseUrl = Callable[[str], Awaitable[str | None]]
"""workspace id -> the base URL of its Core API, or None if the workspace is not registered."""

_bearer = HTTPBearer(
    scheme_name=CORE_ADMIN_SCHEME,
    description="The caller's own Core token; Core must say it is an admin of the workspace",
    auto_error=False,
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
_platform_bearer = HTTPBearer(
    scheme_name=PLATFORM_ADMIN_SCHEME,
    description="The platform operator's token (TB_ADMIN_TOKEN): registers workspaces",
    auto_error=False,
)
PlatformCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_platform_bearer)]
_VISIBLE_ASCII = re.compile(r"[!-~]{1,4096}")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def bearer_token(credentials: HTTPAuthorizationCredentials | None, what: str) -> str:
    """The token of an ``Authorization: Bearer`` header, or ``401``.

    A token is visible ASCII (RFC 6750); anything else (a header of other bytes, decoded as
    Latin-1 by the server) would fail later in a comparison or an outgoing header, so it is
    refused here with the reason.
    """
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"{what} is required", _CHALLENGE)
    if not _VISIBLE_ASCII.fullmatch(credentials.credentials):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "the bearer token must be visible ASCII", _CHALLENGE
        )
    return credentials.credentials


class PlatformAdmin:
    """The platform operator (one shared token from the settings), for the platform admin API."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def require(self, credentials: PlatformCredentials) -> None:
        """FastAPI dependency: ``401`` unless the bearer token is the platform's."""
        token = bearer_token(credentials, "the platform admin token")
        expected = self._token.get_secret_value()
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "admin bearer token required", _CHALLENGE
            )


class WorkspaceAdmins:
    def __init__(
        self,
        core: Callable[[str, str], AbstractAsyncContextManager[IdentityClient]],
        core_base_url: CoreBaseUrl,
        *,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._core = core
        self._core_base_url = core_base_url
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Caller]] = {}

    async def require(self, workspace_id: WorkspaceIdPath, credentials: Credentials) -> Caller:
        """FastAPI dependency: the calling admin, or ``401``/``403``/``404``/``502``."""
        return await self.authorize(workspace_id, bearer_token(credentials, "a Core user token"))

    async def authorize(self, workspace_id: str, user_token: str) -> Caller:
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
                status.HTTP_401_UNAUTHORIZED, "Core did not accept the token", _CHALLENGE
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
