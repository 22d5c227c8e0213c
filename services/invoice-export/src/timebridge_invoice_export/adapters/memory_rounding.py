"""The ``RoundingTx`` port in memory (``adapters/pg/rounding.py`` in Postgres)."""

# ``lock`` matters to Postgres only (one version per change under concurrent admins).
# ruff: noqa: ARG002

from typing import TYPE_CHECKING

from timebridge_invoice_export.domain.rounding import RoundingPolicy

if TYPE_CHECKING:
    from timebridge_invoice_export.adapters.memory import State


class MemoryRounding:
    s: "State"

    async def rounding_policy(
        self, workspace_id: str, client_id: str, *, lock: bool = False
    ) -> RoundingPolicy | None:
        versions = await self.rounding_versions(workspace_id, client_id)
        return versions[-1] if versions else None

    async def rounding_versions(self, workspace_id: str, client_id: str) -> list[RoundingPolicy]:
        return list(self.s.rounding.get((workspace_id, client_id), ()))

    async def add_rounding_policy(self, policy: RoundingPolicy) -> None:
        self.s.rounding.setdefault((policy.workspace_id, policy.client_id), []).append(policy)
