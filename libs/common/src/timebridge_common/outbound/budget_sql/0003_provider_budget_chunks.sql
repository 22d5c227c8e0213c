-- Grants in chunks while the log is far from its limit (issue 12): a process with a raised
-- limit asked the database once per request. Up to p_want grants are taken in one call, but
-- only while the log holds at most half the limit with them; otherwise one, as
-- provider_budget_grant does. A chunk's grants are logged at now + p_hold_s, the latest moment
-- the process may spend one (it drops the rest then), so each counts for the whole window
-- after whenever it is sent: no window ever holds more than p_limit, whichever replica asks.
CREATE OR REPLACE FUNCTION provider_budget_grant_many(
    p_key text, p_limit integer, p_window_s double precision, p_want integer,
    p_hold_s double precision,
    OUT wait_s double precision, OUT granted_at timestamptz, OUT granted integer
) LANGUAGE plpgsql AS $$
DECLARE
    b provider_budgets%ROWTYPE;
    now_ timestamptz;
    recent timestamptz[];
    n integer;
BEGIN
    granted := 0;
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
    IF p_want > 1 AND 2 * (n + p_want) <= p_limit THEN
        granted := p_want;
        granted_at := now_ + make_interval(secs => p_hold_s);
        UPDATE provider_budgets
        SET grants = recent || array_fill(granted_at, ARRAY[p_want]), updated_at = now_
        WHERE budget_key = p_key;
        wait_s := 0;
    ELSIF n < p_limit THEN
        granted := 1;
        granted_at := now_;
        UPDATE provider_budgets SET grants = recent || now_, updated_at = now_
        WHERE budget_key = p_key;
        wait_s := 0;
    ELSE
        wait_s := greatest(
            0.001,
            extract(epoch FROM recent[n - p_limit + 1] + make_interval(secs => p_window_s) - now_)
        );
    END IF;
END
$$;
