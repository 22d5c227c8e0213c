-- The replay window of the webhook receivers (timebridge_common.webhooks.replay): one row per
-- delivery a receiver published, kept until expires_at, after which the delivery is too old to
-- be accepted anyway (stale signature time or payload time). done_at is NULL while a request is
-- publishing it (a claim; a crashed claim is taken over after its lease).
CREATE TABLE webhook_deliveries (
    receiver     text        NOT NULL,
    delivery_key text        NOT NULL,
    claimed_at   timestamptz NOT NULL,
    done_at      timestamptz,
    outcome      text,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (receiver, delivery_key)
);
CREATE INDEX webhook_deliveries_expiry ON webhook_deliveries (expires_at);
