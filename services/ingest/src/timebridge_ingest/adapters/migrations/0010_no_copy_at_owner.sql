-- The credential owner (the credentials service) holds every secret handed to it; ingest keeps
-- no copy of those (issue 7). A row's sealed secret stays only until the start-up hand-over
-- marks it held, then it is wiped; what was handed over before this release is wiped here.
ALTER TABLE workspaces ALTER COLUMN core_token_enc DROP NOT NULL;
UPDATE integrations SET api_key_enc = NULL WHERE at_owner;
UPDATE workspaces SET core_token_enc = NULL WHERE at_owner;
