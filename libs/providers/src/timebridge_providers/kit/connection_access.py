"""The access of a connection a service keeps a copy of (``ConnectionChanged``), in one place.

The credential owner (the credentials service) hands out what to call the provider with:
:meth:`~timebridge_providers.kit.credentials.CredentialSource.access` gives the key or a current
OAuth access token (refreshed and rotated by the owner) with the base URL and the connection's
fields as ``Access.extra``. A service reading its copies asks here, never builds an ``Access``
of its own from the copy (one way for every reader). There is no other source: the copies carry
no secret (``ConnectionChanged`` v2), and every service that calls a provider is configured with
the owner (``OwnerSettings``).
"""

from dataclasses import dataclass

from timebridge_common.events import ConnectionChanged
from timebridge_providers.kit.credentials import CredentialSource
from timebridge_providers.kit.session import Access


@dataclass(frozen=True, slots=True)
class ConnectionAccess:
    """Connection copy -> the ``Access`` to call its provider with, from ``source`` (the owner).

    Raises what the owner raises: ``UnknownCredentialError`` (it holds nothing: invalid),
    ``NeedsReauthorisationError`` (an admin must connect again), ``TransientError`` (retried).
    """

    source: CredentialSource

    async def __call__(self, connection: ConnectionChanged) -> Access:
        return await self.source.access(connection.workspace_id, connection.connection_id)
