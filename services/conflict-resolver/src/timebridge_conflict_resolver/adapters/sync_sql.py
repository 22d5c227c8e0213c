"""The statements of :class:`~timebridge_conflict_resolver.adapters.postgres.PostgresSync` that
do several things in one round trip (issue 12: the resolver's time per entry was mostly round
trips, each with its pool checkout).

``COMMIT_DECISION`` is what a decision commits besides the outbox, as one statement: the inbox
claim, the lease release (counted), the confirmed target records and the link, and the
superseding of the entry's open conflict. Data-modifying CTEs see one snapshot and touch
different tables, so one statement does what the separate ones did; everything after the claim
is conditioned on it, so an event already processed changes nothing.

``TAKE_LEASES`` locks the records' current leases and takes them all only if none is held by
another owner younger than the lease time; when fewer were taken (another replica inserted one
meanwhile) it raises inside the statement, which rolls it back whole, as the caller's
transaction did before (no ``BEGIN``/``COMMIT`` round trips around it). Each key taken is
recorded in ``sync_attempts`` (migration 0007), kept for good; a key is ``first`` only when that
insert made its row now and no lease, record or link of it was there (rows an older replica left
without recording an attempt): no write of it can have been planned or sent before.

``KNOWN`` is everything a change reads before it decides, in one snapshot: the entry's link,
the record it is a copy of, other owners' live leases on it, the target records it lands in
(and the one its link landed in) with their contributions, and the day's observations when the
entry is neither linked nor a copy (was up to seven round trips, one by one, per change). Rows
come back as ``jsonb`` (the pool decodes it), one row in all.
"""

_CLAIM_AND_WRITE = """claim AS (
    INSERT INTO inbox (consumer, event_id, event_type)
    SELECT $1, $2, $3 WHERE $1::text IS NOT NULL
    ON CONFLICT DO NOTHING RETURNING 1
), go AS (
    SELECT $1::text IS NULL OR EXISTS (SELECT 1 FROM claim) AS ok
), gone AS (
    DELETE FROM sync_intents WHERE owner = $4 AND (SELECT ok FROM go) RETURNING 1
), targets AS (
    INSERT INTO sync_targets (integration_id, system, key, workspace_id, target_id, confirmed,
        confirmed_at, origin)
    SELECT $5, t.system, t.key, $6, t.target_id, t.confirmed::jsonb, t.confirmed_at, t.origin
    FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::text[])
        AS t(system, key, target_id, confirmed, confirmed_at, origin)
    WHERE (SELECT ok FROM go)
    ON CONFLICT (integration_id, system, key) DO UPDATE SET
        target_id = EXCLUDED.target_id, confirmed = EXCLUDED.confirmed,
        confirmed_at = EXCLUDED.confirmed_at, origin = EXCLUDED.origin, updated_at = now()
    RETURNING 1
), link AS (
    INSERT INTO sync_links (integration_id, source, source_id, workspace_id, target,
        target_key, written, source_updated_at, active, source_entry)
    SELECT $5, $13, $14, $6, $15, $16, $17::jsonb, $18, $19, $20::jsonb
    WHERE $13::text IS NOT NULL AND (SELECT ok FROM go)
    ON CONFLICT (integration_id, source, source_id) DO UPDATE SET
        target = EXCLUDED.target, target_key = EXCLUDED.target_key,
        written = EXCLUDED.written, source_updated_at = EXCLUDED.source_updated_at,
        active = EXCLUDED.active, source_entry = EXCLUDED.source_entry, updated_at = now()
    RETURNING 1
)"""
"""The inbox claim, the leases released, the target records and the link, each conditioned on
the claim: the part both commits share."""

_SUPERSEDED = """superseded AS (
    UPDATE conflicts SET status = 'superseded', resolved_at = now(), updated_at = now()
    WHERE $21 AND (SELECT ok FROM go) AND integration_id = $5 AND source = $22
        AND source_id = $23 AND status = 'open'
    RETURNING 1
)"""

COMMIT_DECISION = f"""
WITH {_CLAIM_AND_WRITE}, {_SUPERSEDED}
SELECT (SELECT ok FROM go) AS claimed, (SELECT count(*) FROM gone) AS released,
    (SELECT count(*) FROM targets) + (SELECT count(*) FROM link)
        + (SELECT count(*) FROM superseded) AS written
"""  # noqa: S608 (this module's constants only, no input)

COMMIT_ALONE = f"""
WITH {_CLAIM_AND_WRITE}, outboxed AS (
    INSERT INTO outbox (event_id, topic, key, value, headers)
    SELECT $25, $26, $27, $28, $29 WHERE $25::uuid IS NOT NULL AND (SELECT ok FROM go)
    ON CONFLICT (event_id) DO NOTHING
    RETURNING 1
), {_SUPERSEDED}
SELECT (SELECT ok FROM go) AS claimed,
    CASE WHEN (SELECT ok FROM go) AND (SELECT count(*) FROM gone) < $24
        THEN resolver_lease_expired() END AS expired,
    (SELECT count(*) FROM (SELECT pg_notify('timebridge_outbox', '') FROM outboxed) n) AS notified
"""  # noqa: S608 (this module's constants only, no input)
"""``COMMIT_DECISION`` with the outbox row and its notice (the relay's channel) in the same
statement, for a decision that opens, refreshes or resolves no conflict ($24: the leases the owner
must still hold; $25-$29: the outcome's outbox row)."""

LEASE_EXPIRED = "TBL02"
"""The error ``COMMIT_ALONE`` raises (migration 0006), rolling itself back, when fewer leases
were released than the owner took."""

TAKE_LEASES = """
WITH current AS (
    SELECT key, owner, operation, planned, target_id,
        extract(epoch FROM now() - taken_at) AS age
    FROM sync_intents
    WHERE integration_id = $1 AND system = $2 AND key = ANY($3::text[])
    FOR UPDATE
), free AS (
    SELECT NOT EXISTS (SELECT 1 FROM current WHERE owner <> $4 AND age < $5) AS ok
), taken AS (
    INSERT INTO sync_intents (integration_id, system, key, owner, target_id)
    SELECT $1, $2, k, $4, t FROM unnest($3::text[], $6::text[]) AS s(k, t)
    WHERE (SELECT ok FROM free)
    ON CONFLICT (integration_id, system, key) DO UPDATE SET owner = EXCLUDED.owner,
        taken_at = now(),
        operation = CASE WHEN sync_intents.owner = EXCLUDED.owner
            THEN sync_intents.operation END,
        planned = CASE WHEN sync_intents.owner = EXCLUDED.owner THEN sync_intents.planned END,
        target_id = CASE WHEN sync_intents.owner = EXCLUDED.owner
            THEN coalesce(EXCLUDED.target_id, sync_intents.target_id)
            ELSE EXCLUDED.target_id END
    WHERE sync_intents.owner = EXCLUDED.owner
        OR sync_intents.taken_at < now() - make_interval(secs => $5)
    RETURNING key
), attempted AS (
    INSERT INTO sync_attempts (integration_id, system, key)
    SELECT $1, $2, key FROM taken
    ON CONFLICT DO NOTHING
    RETURNING key
)
SELECT false AS taken, key, owner, operation, planned, target_id, age, false AS first
FROM current
UNION ALL
SELECT true, t.key, NULL, NULL, NULL, NULL, NULL,
    t.key IN (SELECT key FROM attempted)
        AND NOT EXISTS (SELECT 1 FROM current c WHERE c.key = t.key)
        AND NOT EXISTS (SELECT 1 FROM sync_targets s
            WHERE s.integration_id = $1 AND s.system = $2 AND s.key = t.key)
        AND NOT EXISTS (SELECT 1 FROM sync_links l WHERE l.integration_id = $1 AND l.active
            AND l.target = $2 AND l.target_key = t.key)
FROM taken t
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
WHERE CASE WHEN (SELECT ok FROM free) AND (SELECT count(DISTINCT key) FROM taken)
        < (SELECT count(DISTINCT k) FROM unnest($3::text[]) AS k)
    THEN resolver_leases_taken_meanwhile() ELSE false END
"""

LEASES_TAKEN_MEANWHILE = "TBL01"
"""The error ``TAKE_LEASES`` raises (migration 0005), rolling itself back, when another replica
inserted one of its leases after the statement's snapshot: then it took them only in part."""

KNOWN = """
WITH link AS (
    SELECT source, source_id, target, target_key, written, source_updated_at, active,
        source_entry
    FROM sync_links WHERE integration_id = $1 AND source = $2 AND source_id = $3
), twin AS (
    SELECT system, key, target_id, confirmed, confirmed_at, origin FROM sync_targets
    WHERE integration_id = $1 AND system = $2 AND target_id = $3
    ORDER BY updated_at DESC LIMIT 1
), keys AS (
    SELECT k AS key FROM unnest($5::text[]) AS k
    UNION SELECT target_key FROM link WHERE active
)
SELECT
    (SELECT to_jsonb(link) FROM link) AS link,
    (SELECT to_jsonb(twin) FROM twin) AS copy,
    ARRAY(SELECT key FROM keys) AS keys,
    (SELECT coalesce(jsonb_agg(to_jsonb(i)), '[]') FROM (
        SELECT key, owner, operation, planned, target_id FROM sync_intents
        WHERE $6::uuid IS NOT NULL AND integration_id = $1 AND system = $2 AND owner <> $6
            AND taken_at > now() - make_interval(secs => $7)
            AND (target_id = $3 OR (target_id IS NULL AND operation = 'create'))
    ) i) AS leases,
    (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM (
        SELECT system, key, target_id, confirmed, confirmed_at, origin FROM sync_targets
        WHERE integration_id = $1 AND system = $4 AND key IN (SELECT key FROM keys)
    ) t) AS targets,
    (SELECT coalesce(jsonb_agg(to_jsonb(c) ORDER BY c.source, c.source_id), '[]') FROM (
        SELECT source, source_id, target, target_key, written, source_updated_at, active,
            source_entry
        FROM sync_links WHERE integration_id = $1 AND active AND target = $4
            AND target_key = ANY (ARRAY(SELECT key FROM keys))
        UNION
        SELECT source, source_id, target, target_key, written, source_updated_at, active,
            source_entry
        FROM sync_links WHERE integration_id = $1 AND active AND target = $2
            AND target_key = (SELECT key FROM twin)
    ) c) AS contributions,
    CASE WHEN $10::date IS NOT NULL AND NOT EXISTS (SELECT 1 FROM link)
        AND NOT EXISTS (SELECT 1 FROM twin)
    THEN (SELECT coalesce(jsonb_agg(to_jsonb(o) ORDER BY o.source, o.external_id), '[]') FROM (
        SELECT workspace_id, source, external_id, person, date, started_at, duration_seconds,
            updated_at, deleted, task_external_id, user_external_id
        FROM observations WHERE workspace_id = $8 AND person = $9 AND date = $10
    ) o) END AS same_day
"""
