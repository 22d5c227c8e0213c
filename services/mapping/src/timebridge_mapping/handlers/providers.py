"""The providers of a workspace's connections, opened from the local connection copies.

The access to call a provider with comes from the credential owner, asked right before a session
is opened (``ConnectionAccess``: the owner's key or current OAuth token, base URL and connection
fields); there is no other source (the copies carry no secret).

A provider is reached through the registry by the name the connection carries; the home system
(Core) is ``registry().home()``.
"""

from dataclasses import dataclass, field

from timebridge_providers.installed import registry
from timebridge_providers.kit.connection_access import ConnectionAccess
from timebridge_providers.kit.credentials import CredentialSource
from timebridge_providers.kit.ports.directory import Directory
from timebridge_providers.kit.registry import Registry

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import ConnectionChanged
from timebridge_mapping.handlers.ports import Connections, Sessions


@dataclass
class Providers:
    connections: Connections
    sessions: Sessions
    registry: Registry = field(default_factory=registry)
    owner: CredentialSource | None = None
    """The credential owner, every access's only source (required; a default for ordering)."""
    _access: ConnectionAccess = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.owner is None:
            raise ValueError("the credential owner is required: connections carry no secret")
        self._access = ConnectionAccess(self.owner)

    def title(self, provider: str) -> str:
        """How people call ``provider`` (its profile's title), or its name if not installed."""
        return self.registry.get(provider).profile.title if provider in self.registry else provider

    async def directory(self, integration: ConnectionChanged) -> Directory:
        """The directory of the integration's provider, with the connection's access."""
        return await self._directory(integration.provider, integration)

    async def home_connection(self, workspace_id: str) -> ConnectionChanged | None:
        found = await self.connections.connected(workspace_id, self.registry.home().name)
        return found[0] if found else None

    async def home(self, workspace_id: str) -> Directory:
        """The home system's directory with the workspace's service token.

        No copy of the Core connection yet is transient while it may be on its way (ingest
        publishes it before any integration of the workspace), invalid once the connections
        topic was read to its end without it (``ConnectionCopies.missing``).
        """
        connection = await self.home_connection(workspace_id)
        if connection is None:
            raise await self.connections.missing(
                f"the Core connection of workspace {workspace_id!r}"
            )
        return await self._directory(self.registry.home().name, connection)

    async def home_base_url(self, workspace_id: str) -> str | None:
        connection = await self.home_connection(workspace_id)
        return None if connection is None else connection.base_url

    async def _directory(self, name: str, connection: ConnectionChanged) -> Directory:
        provider = self.registry.get(name)
        if provider.directory is None:
            raise InvalidMessageError(f"{provider.profile.title} offers no directory to map with")
        access = await self._access(connection)
        directory = provider.directory(self.sessions.session(name, access))
        return self._access.reporting(connection, directory)  # a 401 tells the owner
