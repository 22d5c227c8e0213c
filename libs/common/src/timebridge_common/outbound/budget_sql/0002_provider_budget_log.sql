-- The bucket becomes a log of the grants of the last window (issue 12): a request is granted
-- while fewer than p_limit grants are younger than p_window_s, so no window ever holds more
-- than the limit, and a steady caller gets all of it (the bucket, half the limit as a burst and
-- half refilled, gave a busy caller half). p_limit may change between calls (a borrowing
-- service keeps to its own share after a 429): the log then waits until it fits.
ALTER TABLE provider_budgets ADD COLUMN IF NOT EXISTS grants timestamptz[] NOT NULL DEFAULT '{}';

CREATE OR REPLACE FUNCTION provider_budget_grant(
    p_key text, p_limit integer, p_window_s double precision,
    OUT wait_s double precision, OUT granted_at timestamptz
) LANGUAGE plpgsql AS $$
DECLARE
    b provider_budgets%ROWTYPE;
    now_ timestamptz;
    recent timestamptz[];
    n integer;
BEGIN
    INSERT INTO provider_budgets (budget_key, tokens, updated_at)
    VALUES (p_key, 0, clock_timestamp())
    ON CONFLICT (budget_key) DO NOTHING;
    SELECT * INTO b FROM provider_budgets WHERE budget_key = p_key FOR UPDATE;
    now_ := clock_timestamp();
    IF b.paused_until > now_ THEN
        wait_s := extract(epoch FROM b.paused_until - now_);
        RETURN;
    END IF;
    recent := ARRAY(
        SELECT g FROM unnest(b.grants) AS g
        WHERE g > now_ - make_interval(secs => p_window_s) ORDER BY g
    );
    n := coalesce(cardinality(recent), 0);
    IF n < p_limit THEN
        UPDATE provider_budgets SET grants = recent || now_, updated_at = now_
        WHERE budget_key = p_key;
        wait_s := 0;
        granted_at := now_;
    ELSE
        wait_s := greatest(
            0.001,
            extract(epoch FROM recent[n - p_limit + 1] + make_interval(secs => p_window_s) - now_)
        );
    END IF;
END
$$;
