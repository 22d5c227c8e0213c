-- Raised inside the statement taking write leases (sync_sql.TAKE_LEASES) when another replica
-- inserted one of them meanwhile: the error rolls the whole statement back, so the leases are
-- taken all or none without a transaction of their own around it (issue 12: BEGIN and COMMIT
-- were two more round trips per change).
CREATE OR REPLACE FUNCTION resolver_leases_taken_meanwhile() RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION 'another attempt took a write lease meanwhile' USING ERRCODE = 'TBL01';
END
$$;
