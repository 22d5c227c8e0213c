-- The provider's connection fields an admin enters besides the credential (an account id, a
-- tenant): not secret, kept with the integration and handed to every session (issue 7).
ALTER TABLE integrations ADD COLUMN extra jsonb NOT NULL DEFAULT '{}'::jsonb;
