"""The resolver's one-statement read (``sync_sql.KNOWN``) stays an index look-up as links grow.

Its contributions were read with ``(target = … AND target_key IN (…)) OR (target = … AND
target_key = …)``, which PostgreSQL can only answer by scanning every active link of the
integration: over a 10-minute soak (14,600 links) each change read ~7,700 rows and the
resolver's PostgreSQL CPU per entry rose from 3.1 to 6.9 ms (issue 12). The two branches are now
a ``UNION``, each answered by ``sync_links_by_target``.
"""

import json
from typing import Any

import asyncpg

from timebridge_conflict_resolver.adapters.sync_sql import KNOWN

LINKS = 5_000


def _scans(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (node type, relation) of a JSON plan."""
    found = [(plan.get("Node Type", ""), plan.get("Relation Name", ""))]
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


async def test_a_change_reads_its_records_contributions_by_index(
    resolver_pool: asyncpg.Pool,
) -> None:
    await resolver_pool.execute(
        "INSERT INTO sync_links (integration_id, source, source_id, workspace_id, target,"
        " target_key, written, source_updated_at, active)"
        " SELECT 'int_1', 'core', 'te_' || i, 'ws', 'everhour',"
        " 'u1|t' || (i % 50) || '|' || (i / 50), '{}', now(), true"
        " FROM generate_series(1, $1) AS i",
        LINKS,
    )
    await resolver_pool.execute("ANALYZE sync_links")
    async with resolver_pool.acquire() as conn:
        raw = await conn.fetchval(
            "EXPLAIN (FORMAT JSON) " + KNOWN,
            "int_1",
            "core",
            "te_77",
            "everhour",
            ["u1|t27|1"],
            None,
            60.0,
            "ws",
            "person",
            None,
        )
        known = await conn.fetchrow(
            KNOWN, "int_1", "core", "te_77", "everhour", ["u1|t27|1"], None, 60.0, "ws", "p", None
        )
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    scans = _scans(plan)
    assert ("Seq Scan", "sync_links") not in scans, scans
    assert ("Index Scan", "sync_links") in scans or ("Bitmap Heap Scan", "sync_links") in scans
    # Still the same answer: the links landing in the key asked for, and te_77's own.
    assert known is not None
    raw_contributions = known["contributions"]
    contributions = (
        json.loads(raw_contributions) if isinstance(raw_contributions, str) else raw_contributions
    )
    ids = sorted(c["source_id"] for c in contributions)
    assert ids == sorted(f"te_{i}" for i in range(1, LINKS + 1) if (i % 50, i // 50) in {(27, 1)})
    assert "te_77" in ids
