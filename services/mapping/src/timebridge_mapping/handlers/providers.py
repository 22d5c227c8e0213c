"""Provider clients for a workspace's connections, built from the local connection copies.

Credentials stay encrypted in the copies and are decrypted here, only to build a client. A
credential this service cannot decrypt (its platform key differs from ingest's) will not decrypt
on a retry either: it is an invalid message, dead-lettered at once with that reason.
"""

from dataclasses import dataclass

from timebridge_providers.core.client import CoreClient
from timebridge_providers.everhour.client import EverhourClient

from timebridge_common.crypto import DecryptionError
from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import ConnectionChanged
from timebridge_mapping.domain.direction import CORE
from timebridge_mapping.handlers.ports import Connections, CoreFactory, EverhourFactory


@dataclass
class Providers:
    connections: Connections
    everhour_factory: EverhourFactory
    core_factory: CoreFactory

    def everhour(self, integration: ConnectionChanged) -> EverhourClient:
        return self.everhour_factory(integration.base_url, self._secret(integration))

    async def core_connection(self, workspace_id: str) -> ConnectionChanged | None:
        found = await self.connections.connected(workspace_id, CORE)
        return found[0] if found else None

    async def core(self, workspace_id: str) -> CoreClient:
        """A client with the workspace's Core service token.

        No copy of the Core connection yet is transient while it may be on its way (ingest
        publishes it before any integration of the workspace), invalid once the connections
        topic was read to its end without it (``ConnectionCopies.missing``).
        """
        connection = await self.core_connection(workspace_id)
        if connection is None:
            raise await self.connections.missing(
                f"the Core connection of workspace {workspace_id!r}"
            )
        return self.core_factory(connection.base_url, self._secret(connection))

    async def core_base_url(self, workspace_id: str) -> str | None:
        connection = await self.core_connection(workspace_id)
        return None if connection is None else connection.base_url

    def _secret(self, connection: ConnectionChanged) -> str:
        try:
            return self.connections.credentials(connection)
        except DecryptionError as exc:
            raise InvalidMessageError(
                f"the credentials of connection {connection.connection_id} do not decrypt with"
                " this service's key (TB_ENCRYPTION_KEY differs from ingest's?)"
            ) from exc
