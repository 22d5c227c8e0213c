"""Rows of the versioned rounding policies (every version kept)."""

import asyncpg

from timebridge_invoice_export.adapters.pg.rows import Rows
from timebridge_invoice_export.domain.rounding import RoundingPolicy


def _policy(row: asyncpg.Record) -> RoundingPolicy:
    return RoundingPolicy(
        workspace_id=row["workspace_id"],
        client_id=row["client_id"],
        version=row["version"],
        increment_minutes=row["increment_minutes"],
        applies_to=row["applies_to"],
        created_at=row["created_at"],
        created_by=row["created_by"],
    )


class RoundingRows(Rows):
    async def rounding_policy(
        self, workspace_id: str, client_id: str, *, lock: bool = False
    ) -> RoundingPolicy | None:
        """The newest version of exactly this policy (the client's, or ``''``: the workspace's).

        ``lock`` serialises two admins changing it, so each change gets its own version.
        """
        if lock:
            await self.conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('rounding:' || $1 || ':' || $2))",
                workspace_id,
                client_id,
            )
        row = await self.conn.fetchrow(
            "SELECT * FROM rounding_policies WHERE workspace_id = $1 AND client_id = $2"
            " ORDER BY version DESC LIMIT 1",
            workspace_id,
            client_id,
        )
        return None if row is None else _policy(row)

    async def rounding_versions(self, workspace_id: str, client_id: str) -> list[RoundingPolicy]:
        rows = await self.conn.fetch(
            "SELECT * FROM rounding_policies WHERE workspace_id = $1 AND client_id = $2"
            " ORDER BY version",
            workspace_id,
            client_id,
        )
        return [_policy(row) for row in rows]

    async def add_rounding_policy(self, policy: RoundingPolicy) -> None:
        await self.conn.execute(
            "INSERT INTO rounding_policies (workspace_id, client_id, version, increment_minutes,"
            " applies_to, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            policy.workspace_id,
            policy.client_id,
            policy.version,
            policy.increment_minutes,
            policy.applies_to,
            policy.created_at,
            policy.created_by,
        )
