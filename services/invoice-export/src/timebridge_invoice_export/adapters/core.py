"""Core's projects, read with the workspace's Core service token as the credential owner hands
it out (``ConnectionAccess``), for the Core connection this service keeps a copy of."""

from collections.abc import Callable

from timebridge_providers.core.client import CoreClient
from timebridge_providers.installed import registry
from timebridge_providers.kit.connection_access import ConnectionAccess

from timebridge_common.connections import ConnectionCopies
from timebridge_common.errors import TransientError
from timebridge_invoice_export.handlers.billing import CoreProject


class CoreDirectory:
    def __init__(
        self,
        copies: ConnectionCopies,
        core: Callable[[str, str], CoreClient],
        access: ConnectionAccess,
    ) -> None:
        self._copies = copies
        self._core = core
        self._access = access

    async def base_url(self, workspace_id: str) -> str | None:
        found = await self._copies.connected(workspace_id, registry().home().name)
        return found[0].base_url if found else None

    async def projects(self, workspace_id: str) -> list[CoreProject]:
        found = await self._copies.connected(workspace_id, registry().home().name)
        if not found:
            raise TransientError(f"no Core connection for workspace {workspace_id!r} (yet)")
        access = await self._access(found[0])
        async with self._core(access.base_url, access.credential) as core:
            return [CoreProject(p.id, p.name, p.archived) async for p in core.projects()]
