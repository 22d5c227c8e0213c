"""Rounding policies: change one (a new version), read its history, and find the version that
rounds a client's next invoice (``domain/rounding.py`` has the rule)."""

from timebridge_common.refusals import NotFoundError
from timebridge_invoice_export.domain.rounding import (
    WORKSPACE,
    AppliesTo,
    RoundingPolicy,
    RoundingUsed,
    next_version,
)
from timebridge_invoice_export.handlers.ports import Clock
from timebridge_invoice_export.handlers.stores import Store, Tx


class Rounding:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def versions(self, workspace_id: str, client_id: str | None) -> list[RoundingPolicy]:
        """Every version of the client's own policy (None: the workspace's), oldest first."""
        async with self._store.tx() as tx:
            await _known(tx, workspace_id, client_id)
            return await tx.rounding_versions(workspace_id, client_id or WORKSPACE)

    async def effective(self, workspace_id: str, client_id: str) -> RoundingPolicy | None:
        """The version the client's next invoice is rounded with."""
        async with self._store.tx() as tx:
            await _known(tx, workspace_id, client_id)
            return await effective_policy(tx, workspace_id, client_id)

    async def change(
        self,
        workspace_id: str,
        client_id: str | None,
        *,
        increment_minutes: int,
        applies_to: AppliesTo,
        admin: str,
    ) -> RoundingPolicy:
        """Make the rule the policy's new version (the same rule again makes none).

        Invoices already frozen (exporting, exported) keep the version their lines name;
        drafts are priced with the newest version until they are exported.
        """
        key = client_id or WORKSPACE
        async with self._store.tx() as tx:
            await _known(tx, workspace_id, client_id)
            current = await tx.rounding_policy(workspace_id, key, lock=True)
            made = next_version(
                current,
                workspace_id=workspace_id,
                client_id=key,
                increment_minutes=increment_minutes,
                applies_to=applies_to,
                now=self._clock(),
                admin=admin,
            )
            if made is None:
                assert current is not None
                return current
            await tx.add_rounding_policy(made)
            return made


async def effective_policy(tx: Tx, workspace_id: str, client_id: str) -> RoundingPolicy | None:
    """The client's own newest version, else the workspace's, else none (exact time)."""
    own = await tx.rounding_policy(workspace_id, client_id)
    return own if own is not None else await tx.rounding_policy(workspace_id, WORKSPACE)


async def rounding_for(tx: Tx, workspace_id: str, client_id: str) -> RoundingUsed | None:
    policy = await effective_policy(tx, workspace_id, client_id)
    return None if policy is None else RoundingUsed.of(policy)


async def _known(tx: Tx, workspace_id: str, client_id: str | None) -> None:
    if client_id is None:
        return
    client = await tx.client(client_id)
    if client is None or client.workspace_id != workspace_id:
        raise NotFoundError(f"no client {client_id} in {workspace_id}")
