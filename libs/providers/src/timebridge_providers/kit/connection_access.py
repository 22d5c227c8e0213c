"""The access of a connection a service keeps a copy of (``ConnectionChanged``), in one place.

The credential owner (the credentials service) hands out what to call the provider with:
:meth:`~timebridge_providers.kit.credentials.CredentialSource.access` gives the key or a current
OAuth access token (refreshed and rotated by the owner) with the base URL and the connection's
fields as ``Access.extra``. A service reading its copies asks here, never builds an ``Access``
of its own from the copy (one way for every reader).

Until every deployment runs the owner, a service without one configured opens the credential
the event still carries sealed (``ConnectionChanged`` v1, the platform key): same ``Access``.
"""

from collections.abc import Callable
from dataclasses import dataclass

from timebridge_common.crypto import DecryptionError
from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import ConnectionChanged
from timebridge_providers.kit.credentials import CredentialSource
from timebridge_providers.kit.session import Access


@dataclass(frozen=True, slots=True)
class ConnectionAccess:
    """Connection copy -> the ``Access`` to call its provider with.

    ``source``: the credential owner (None: not configured). ``unseal``: the copies' decryption
    of the sealed credential (``ConnectionCopies.credentials``), used only without an owner.

    Raises what the owner raises (``UnknownCredentialError`` and a refused credential are
    invalid, ``NeedsReauthorisationError`` needs an admin, ``TransientError`` is retried) and
    :class:`InvalidMessageError` for a sealed credential this service's key does not open (it
    will not on a retry either).
    """

    source: CredentialSource | None
    unseal: Callable[[ConnectionChanged], str] | None = None

    async def __call__(self, connection: ConnectionChanged) -> Access:
        if self.source is not None:
            return await self.source.access(connection.workspace_id, connection.connection_id)
        if self.unseal is None:
            raise RuntimeError("no credential owner nor platform key configured")
        try:
            credential = self.unseal(connection)
        except DecryptionError as exc:
            raise InvalidMessageError(
                f"the credentials of connection {connection.connection_id} do not decrypt with"
                " this service's key (TB_ENCRYPTION_KEY differs from ingest's?)"
            ) from exc
        return Access(connection.base_url, credential, dict(connection.extra))
