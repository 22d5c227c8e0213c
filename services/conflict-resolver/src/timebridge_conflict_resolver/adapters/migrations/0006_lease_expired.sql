-- Raised inside the statement committing a decision alone (sync_sql.COMMIT_ALONE) when fewer
-- of the owner's write leases were left than it took (one expired and was taken over): the
-- error rolls the whole statement back, claim and outbox row too, as the transaction around
-- the separate statements did (issue 12: BEGIN, the outbox insert, NOTIFY and COMMIT were four
-- more round trips per change).
CREATE OR REPLACE FUNCTION resolver_lease_expired() RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION 'the write lease expired and was taken over' USING ERRCODE = 'TBL02';
END
$$;
