"""What ingest calls a provider with: the credential owner's access, not a copy of its own.

The credentials service owns every connection's secret and refreshes an OAuth tracker's tokens
(rotating the refresh token under its lock). Polls, webhook re-reads and hook upkeep therefore
ask it right before calling the provider (``CredentialSource.access``, cached there until shortly
before expiry), so an OAuth tracker is polled with its current access token rather than the one
it was connected with. A connection saved before the owner held its secret is read with the
sealed copy until the start-up hand-over moved it (then the copy is dropped).

A credential the owner cannot hand out (needs re-authorisation, holds nothing) is reported as the
provider's :class:`AuthenticationError`: the callers already treat that as "refused, someone must
reconnect" (sync health, a long retry), never as a transient failure retried at once.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from timebridge_providers.installed import registry
from timebridge_providers.kit.credentials import (
    CredentialSource,
    NeedsReauthorisationError,
    UnknownCredentialError,
)
from timebridge_providers.kit.session import Access

from timebridge_common.outbound.http import AuthenticationError
from timebridge_ingest.domain.connections import Integration, Workspace, core_connection_id


def has_access(integration: Integration) -> bool:
    """Whether the connection can be called at all (connected, and a secret is held)."""
    return integration.status == "connected" and (
        integration.at_owner or integration.api_key is not None
    )


@dataclass(frozen=True, slots=True)
class ConnectionAccesses:
    """Integration or workspace -> the :class:`Access` to call its provider with.

    ``owner``: the credential owner (``None`` only in unit tests that keep secrets here).
    Raises ``TransientError`` while the owner is unavailable (retried), and
    :class:`AuthenticationError` when it cannot hand the credential out.
    """

    owner: CredentialSource | None = None

    async def of(self, integration: Integration) -> Access:
        if self.owner is not None and integration.at_owner:
            return await self._ask(
                integration.provider, integration.workspace_id, integration.integration_id
            )
        if integration.api_key is None:
            raise _refused(integration.provider, "no credential is held: connect it again")
        return Access(integration.base_url, integration.api_key, dict(integration.extra))

    async def home(self, workspace: Workspace) -> Access:
        """The workspace's Core service token (Core's own session extras are none)."""
        if self.owner is not None and workspace.at_owner:
            home = registry().home().name
            connection_id = core_connection_id(workspace.workspace_id)
            return await self._ask(home, workspace.workspace_id, connection_id)
        if workspace.core_token is None:
            raise _refused(registry().home().name, "no Core token is held: register it again")
        return Access(workspace.core_base_url, workspace.core_token, {})

    async def _ask(self, provider: str, workspace_id: str, connection_id: str) -> Access:
        assert self.owner is not None
        try:
            return await self.owner.access(workspace_id, connection_id)
        except NeedsReauthorisationError as exc:
            raise _refused(provider, f"needs re-authorisation: {exc}") from exc
        except UnknownCredentialError as exc:
            raise _refused(provider, f"the credential owner holds none: {exc}") from exc


def _refused(provider: str, why: str) -> AuthenticationError:
    return AuthenticationError(provider, "ACCESS", "credential", 401, why)


def credential_from_owner(
    owner: CredentialSource,
) -> Callable[[Integration], Awaitable[str | None]]:
    """A connection's current credential as its owner hands it out (an OAuth tracker's access
    token refreshed there); one saved before the owner held it, until it is handed over."""

    async def credential_of(integration: Integration) -> str | None:
        if integration.status != "connected":
            return None
        if not integration.at_owner:
            return integration.api_key
        access = await owner.access(integration.workspace_id, integration.integration_id)
        return access.credential

    return credential_of
