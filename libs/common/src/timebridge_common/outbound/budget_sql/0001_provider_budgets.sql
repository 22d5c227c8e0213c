-- One token bucket per provider credential (its SHA-256, never the credential), shared by every
-- process of this service: each request takes a token in one statement, under the row's lock.
CREATE TABLE IF NOT EXISTS provider_budgets (
    budget_key   text             PRIMARY KEY,
    tokens       double precision NOT NULL,
    updated_at   timestamptz      NOT NULL,
    paused_until timestamptz      NOT NULL DEFAULT '-infinity'
);

-- Take one token of budget_key, refilled at p_rate per second up to p_capacity, unless the
-- budget is paused (a 429). Returns wait_s = 0 and the grant time when a token was taken;
-- otherwise how long to wait before asking again. The database clock is the only clock, so
-- replicas on hosts whose clocks differ still share one window.
CREATE OR REPLACE FUNCTION provider_budget_take(
    p_key text, p_capacity double precision, p_rate double precision,
    OUT wait_s double precision, OUT granted_at timestamptz
) LANGUAGE plpgsql AS $$
DECLARE
    b provider_budgets%ROWTYPE;
    now_ timestamptz;
    available double precision;
BEGIN
    INSERT INTO provider_budgets (budget_key, tokens, updated_at)
    VALUES (p_key, p_capacity, clock_timestamp())
    ON CONFLICT (budget_key) DO NOTHING;
    SELECT * INTO b FROM provider_budgets WHERE budget_key = p_key FOR UPDATE;
    now_ := clock_timestamp();
    IF b.paused_until > now_ THEN
        wait_s := extract(epoch FROM b.paused_until - now_);
        RETURN;
    END IF;
    available := least(
        p_capacity,
        b.tokens + greatest(0, extract(epoch FROM now_ - greatest(b.updated_at, b.paused_until)))
            * p_rate
    );
    IF available >= 1 - 1e-9 THEN
        UPDATE provider_budgets SET tokens = available - 1, updated_at = now_
        WHERE budget_key = p_key;
        wait_s := 0;
        granted_at := now_;
    ELSE
        wait_s := (1 - available) / p_rate;
    END IF;
END
$$;

-- The provider said to wait (429 Retry-After): nobody of this service uses the credential before
-- then, and the bucket starts empty afterwards.
CREATE OR REPLACE FUNCTION provider_budget_pause(p_key text, p_seconds double precision)
RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE
    until_ timestamptz := clock_timestamp() + make_interval(secs => p_seconds);
BEGIN
    INSERT INTO provider_budgets AS b (budget_key, tokens, updated_at, paused_until)
    VALUES (p_key, 0, clock_timestamp(), until_)
    ON CONFLICT (budget_key) DO UPDATE SET
        tokens = 0,
        updated_at = clock_timestamp(),
        paused_until = greatest(b.paused_until, EXCLUDED.paused_until);
    RETURN (SELECT paused_until FROM provider_budgets WHERE budget_key = p_key);
END
$$;
