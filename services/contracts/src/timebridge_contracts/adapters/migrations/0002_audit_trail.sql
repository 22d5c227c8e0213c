-- The tamper-evident audit trail: append-only, hash-chained per workspace (domain/audit.py).
--
-- Append-only is enforced in the database, not only by the code: a trigger refuses every
-- UPDATE, DELETE and TRUNCATE, whoever runs it. Only the table's owner can disable that
-- trigger (ALTER TABLE ... DISABLE TRIGGER); in production the service runs as a role that
-- does not own the table (migrations run as the owner) and holds only SELECT and INSERT, so it
-- can neither change records nor switch the guard off. Whatever bypasses both (a superuser
-- editing the files) is found by the hash chain's verification.

CREATE TABLE audit_log (
    workspace_id text        NOT NULL,
    seq          bigint      NOT NULL CHECK (seq >= 1),
    recorded_at  timestamptz NOT NULL,
    kind         text        NOT NULL,
    entry_ids    text[]      NOT NULL DEFAULT '{}',
    contract_ids text[]      NOT NULL DEFAULT '{}',
    invoice_id   text,
    event_id     uuid,
    body         text        NOT NULL,
    prev_hash    text        NOT NULL,
    hash         text        NOT NULL,
    PRIMARY KEY (workspace_id, seq)
);
CREATE INDEX audit_by_entry ON audit_log USING gin (entry_ids);
CREATE INDEX audit_by_contract ON audit_log USING gin (contract_ids);
CREATE INDEX audit_by_time ON audit_log (workspace_id, recorded_at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
