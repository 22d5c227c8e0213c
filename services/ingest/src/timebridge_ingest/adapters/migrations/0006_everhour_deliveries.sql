-- Everhour deliveries waiting to be re-read (an inbox): a delivery is answered once its row is
-- committed, and a worker re-reads the records and publishes them. One row per record: a burst
-- of deliveries about one record is one row (seq counts them, so one arriving while the record
-- is being read is read again), and its size is bounded by the records, never by the deliveries.
CREATE TABLE everhour_deliveries (
    integration_id  text        NOT NULL,
    record_id       bigint      NOT NULL,
    record_date     date        NOT NULL,
    user_id         bigint      NOT NULL,
    task_id         text,
    seq             bigint      NOT NULL DEFAULT 1,
    received_at     timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    PRIMARY KEY (integration_id, record_id)
);
CREATE INDEX everhour_deliveries_due ON everhour_deliveries (next_attempt_at);
