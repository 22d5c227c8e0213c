-- FreshBooks callback verifications invoice-export is waiting for (handlers/verifications.py).
-- A row per callback FreshBooks returned to us (awaited: its posted verifier may be confirmed,
-- at most max attempts times), per verifier posted while a registration was under way and the
-- callback's id not yet known (held, never acted on unless FreshBooks returns that id to us),
-- and callback_id '*' while a registration is under way.
CREATE TABLE freshbooks_verifications (
    connection_id text        NOT NULL,
    callback_id   text        NOT NULL,
    awaited       boolean     NOT NULL DEFAULT false,
    attempts      integer     NOT NULL DEFAULT 0,
    verifier_enc  text,
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (connection_id, callback_id)
);
CREATE INDEX freshbooks_verifications_expiry ON freshbooks_verifications (expires_at);
