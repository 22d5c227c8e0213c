"""Each system's records, opened through the provider registry on a kit session.

Production: the registry's ``entries`` capability on a session of
:class:`~timebridge_providers.kit.clients.ProviderClients` (one pool per base URL, one request
budget per credential, this service's share of the provider's limit). Tests and tools that build
their own clients (sandboxes on fake time) hand :class:`OpenedBy` an opener per system.
"""

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from timebridge_providers.installed import registry
from timebridge_providers.kit.ports.entries import EntryStore
from timebridge_providers.kit.registry import Registry
from timebridge_providers.kit.session import Access, Session

from timebridge_common.errors import InvalidMessageError

SessionFactory = Callable[[str, Access], Session]
"""(provider, access) -> a session: ``ProviderClients.session`` in production."""

Opener = Callable[[Access], AbstractAsyncContextManager[EntryStore]]
"""A connection's access -> that system's records, for as long as the context lasts."""


@dataclass
class RegistryEntryStores:
    """The registry's ``entries`` capability on sessions from ``sessions``."""

    sessions: SessionFactory
    providers: Registry = field(default_factory=registry)

    @contextlib.asynccontextmanager
    async def open(self, system: str, access: Access) -> AsyncIterator[EntryStore]:
        provider = self.providers.get(system)
        if provider.entries is None:  # checked by the gate before: a programming error here
            raise InvalidMessageError(f"{provider.profile.title} offers no entry writes")
        # The session's pool and budget are shared and outlive the store: nothing to close.
        yield provider.entries(self.sessions(system, access))


@dataclass
class OpenedBy:
    """Stores opened by one opener per system (each provider package has ``opener(factory)``
    for clients built by the caller); other systems through ``fallback``, if any."""

    openers: Mapping[str, Opener]
    fallback: RegistryEntryStores | None = None

    def open(self, system: str, access: Access) -> AbstractAsyncContextManager[EntryStore]:
        opener = self.openers.get(system)
        if opener is not None:
            return opener(access)
        if self.fallback is None:
            raise InvalidMessageError(f"no records of {system!r} can be opened here")
        return self.fallback.open(system, access)
