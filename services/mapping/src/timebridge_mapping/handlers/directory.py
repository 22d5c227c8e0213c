"""The users of both sides, read through the connections' credentials and kept in mapping's DB.

Email matching needs the tracker's team and Core's users. Reading them for every entry would
spend the providers' request budgets on data that rarely changes, so they are cached and
refreshed periodically, on demand (the API), and when an entry's user matches nobody and the
cache is older than a minute or so (a member who just joined is found without waiting). Every
refresh may map users that had entries held, so it signals the releaser.
"""

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from timebridge_common.events import ConnectionChanged
from timebridge_mapping.domain.users import DirectoryUser, UserDirectory
from timebridge_mapping.handlers.ports import Connections, MappingStore
from timebridge_mapping.handlers.providers import Providers

log = structlog.get_logger(__name__)


@dataclass
class Directory:
    store: MappingStore
    connections: Connections
    providers: Providers
    clock: Callable[[], dt.datetime]
    releasable: asyncio.Event
    """Set whenever held entries may have become mappable."""
    refresh_every_s: float = 900.0

    async def refresh(self, integration: ConnectionChanged) -> UserDirectory:
        """Read both sides' users now and replace the cached ones."""
        team = await (await self.providers.directory(integration)).users()
        home = await self.providers.home(integration.workspace_id)
        people = [DirectoryUser(u.external_id, u.email, u.name) for u in await home.users()]
        tracker = [DirectoryUser(u.external_id, u.email, u.name) for u in team]
        async with self.store.transaction() as tx:
            await tx.replace_directory(integration.connection_id, people, tracker, self.clock())
            directory = await tx.directory(integration.connection_id)
        self.releasable.set()
        log.info(
            "users refreshed",
            integration=integration.connection_id,
            core=len(people),
            tracker=len(tracker),
        )
        return directory

    async def refresh_if_older(self, integration: ConnectionChanged, max_age_s: float) -> bool:
        """Refresh unless the cache is younger than ``max_age_s``; whether it refreshed."""
        async with self.store.transaction() as tx:
            refreshed_at = await tx.refreshed_at(integration.connection_id)
        if refreshed_at is not None and self.clock() - refreshed_at < dt.timedelta(
            seconds=max_age_s
        ):
            return False
        await self.refresh(integration)
        return True

    async def run(self) -> None:
        """Every ``refresh_every_s``, read the users of every connected integration again.

        Only integrations whose users were read before: one never used has nothing to refresh,
        and its first entry or admin call reads them.
        """
        while True:
            await asyncio.sleep(self.refresh_every_s)
            async with self.store.transaction() as tx:
                ids = await tx.directories()
            for integration_id in ids:
                integration = await self.connections.get(integration_id)
                if integration is None or integration.status != "connected":
                    continue
                try:
                    await self.refresh(integration)
                except Exception:
                    log.exception("periodic users refresh failed", integration=integration_id)
