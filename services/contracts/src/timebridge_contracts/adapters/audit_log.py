"""The audit trail's table: appending a hash-chained record, reading, verifying.

Appends to one workspace's chain are serialised by a transaction-scoped advisory lock on the
workspace, so two transactions never both take ``seq = n``; the lock is held until the appending
transaction commits or rolls back (a rolled-back append leaves no gap).
"""

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from timebridge_contracts.domain.audit import (
    GENESIS,
    ChainVerifier,
    StoredRecord,
    canonical,
    chain_hash,
)
from timebridge_contracts.handlers.ports import AuditFacts

_LOCK_NAMESPACE = "contracts-audit:"


async def append(
    conn: asyncpg.Connection, workspace_id: str, facts: AuditFacts, at: dt.datetime
) -> int:
    """Append one record to the workspace's chain (in the caller's transaction); its seq."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", _LOCK_NAMESPACE + workspace_id
    )
    last = await conn.fetchrow(
        "SELECT seq, hash FROM audit_log WHERE workspace_id = $1 ORDER BY seq DESC LIMIT 1",
        workspace_id,
    )
    seq = 1 if last is None else last["seq"] + 1
    prev = GENESIS if last is None else last["hash"]
    recorded_at = at.astimezone(dt.UTC)
    clients = set(facts.client_ids)
    if facts.contract_ids:
        found = await conn.fetchval(
            "SELECT array_agg(DISTINCT client_id) FROM contracts WHERE workspace_id = $1"
            " AND contract_id = ANY($2::text[]) AND client_id IS NOT NULL",
            workspace_id,
            list(facts.contract_ids),
        )
        clients |= set(found or [])
    body = {
        "workspace_id": workspace_id,
        "seq": seq,
        "kind": facts.kind,
        "recorded_at": recorded_at.isoformat(),
        "entry_ids": list(facts.entry_ids),
        "contract_ids": list(facts.contract_ids),
        "client_ids": sorted(clients),
        "invoice_id": facts.invoice_id,
        "event_id": facts.event_id,
        "data": facts.data,
    }
    text = canonical(body)
    await conn.execute(
        "INSERT INTO audit_log (workspace_id, seq, recorded_at, kind, entry_ids, contract_ids,"
        " client_ids, invoice_id, event_id, body, prev_hash, hash)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        workspace_id,
        seq,
        recorded_at,
        facts.kind,
        list(facts.entry_ids),
        list(facts.contract_ids),
        body["client_ids"],
        facts.invoice_id,
        uuid.UUID(facts.event_id) if facts.event_id else None,
        text,
        prev,
        chain_hash(prev, text),
    )
    return int(seq)


@dataclass(frozen=True, slots=True)
class AuditQuery:
    entry_id: str | None = None
    contract_id: str | None = None
    invoice_id: str | None = None
    client_id: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    after_seq: int = 0
    limit: int = 500


@dataclass(frozen=True, slots=True)
class Verification:
    workspace_id: str
    checked: int
    ok: bool
    first_broken_seq: int | None
    reason: str | None

    def describe(self) -> str:
        if self.ok:
            return f"{self.workspace_id}: {self.checked} records, chain intact"
        return (
            f"{self.workspace_id}: broken at record {self.first_broken_seq}"
            f" ({self.reason}); {self.checked} records checked"
        )


class AuditTrail:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def records(self, workspace_id: str, query: AuditQuery) -> list[dict[str, Any]]:
        """The records matching ``query``; by entry or client, those of its invoices too.

        An invoice's status change may be recorded before its export (they come on different
        topics): it then names no entry or client, and is found through the invoice's entries
        and client, which the export keeps (``invoice_entries``), whichever came first.
        """
        rows = await self._pool.fetch(
            "SELECT seq, body, prev_hash, hash FROM audit_log WHERE workspace_id = $1"
            " AND ($2::text IS NULL OR $2 = ANY(entry_ids) OR invoice_id IN (SELECT i.invoice_id"
            "  FROM invoice_entries i WHERE i.workspace_id = $1 AND $2 = ANY(i.entry_ids)))"
            " AND ($3::text IS NULL OR $3 = ANY(contract_ids))"
            " AND ($4::text IS NULL OR invoice_id = $4)"
            " AND ($5::timestamptz IS NULL OR recorded_at >= $5)"
            " AND ($6::timestamptz IS NULL OR recorded_at < $6)"
            " AND ($9::text IS NULL OR $9 = ANY(client_ids) OR invoice_id IN (SELECT i.invoice_id"
            "  FROM invoice_entries i WHERE i.workspace_id = $1 AND i.client_id = $9))"
            " AND seq > $7 ORDER BY seq LIMIT $8",
            workspace_id,
            query.entry_id,
            query.contract_id,
            query.invoice_id,
            query.start,
            query.end,
            query.after_seq,
            query.limit,
            query.client_id,
        )
        return [
            json.loads(r["body"]) | {"prev_hash": r["prev_hash"], "hash": r["hash"]} for r in rows
        ]

    async def verify(self, workspace_id: str) -> Verification:
        verifier = ChainVerifier()
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            async for row in conn.cursor(
                "SELECT * FROM audit_log WHERE workspace_id = $1 ORDER BY seq",
                workspace_id,
                prefetch=1000,
            ):
                if verifier.feed(_stored(row)) is not None:
                    break
        checked, broken = verifier.checked, verifier.broken
        return Verification(
            workspace_id,
            checked,
            broken is None,
            broken.seq if broken else None,
            broken.reason if broken else None,
        )

    async def workspaces(self) -> list[str]:
        rows = await self._pool.fetch("SELECT DISTINCT workspace_id FROM audit_log ORDER BY 1")
        return [r["workspace_id"] for r in rows]


def _stored(row: asyncpg.Record) -> StoredRecord:
    columns = {
        "workspace_id": row["workspace_id"],
        "seq": row["seq"],
        "kind": row["kind"],
        "entry_ids": list(row["entry_ids"]),
        "contract_ids": list(row["contract_ids"]),
        "client_ids": list(row["client_ids"]),
        "invoice_id": row["invoice_id"],
        "recorded_at": row["recorded_at"].astimezone(dt.UTC).isoformat(),
    }
    return StoredRecord(row["seq"], row["body"], row["prev_hash"], row["hash"], columns)
