-- The accounting tools a connection may use are the installed providers (the registry), not a
-- list in the schema: adding a tool changes no table.
ALTER TABLE accounting_connections DROP CONSTRAINT IF EXISTS accounting_connections_provider_check;
-- Per-connection webhook verifications belong to any tool registering webhooks per connection.
ALTER TABLE freshbooks_verifications RENAME TO webhook_verifications;
