-- The audit trail is also found by client: the clients of the contracts a record concerns, or
-- the invoice's client. Records written before carry no client_ids in their hashed body.

ALTER TABLE audit_log ADD COLUMN client_ids text[] NOT NULL DEFAULT '{}';
CREATE INDEX audit_by_client ON audit_log USING gin (client_ids);
ALTER TABLE invoice_entries ADD COLUMN client_id text;
