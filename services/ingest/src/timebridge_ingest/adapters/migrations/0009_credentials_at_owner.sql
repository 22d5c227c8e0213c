-- The credential owner (the credentials service) holds every secret an admin enters (issue 7):
-- whether it holds this row's. Secrets saved before it did are handed to it once at start-up
-- (timebridge_ingest.handlers.handover), then marked.
ALTER TABLE workspaces ADD COLUMN at_owner boolean NOT NULL DEFAULT false;
ALTER TABLE integrations ADD COLUMN at_owner boolean NOT NULL DEFAULT false;
