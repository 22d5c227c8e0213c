-- The Everhour webhook token is the only credential of an unsigned delivery: keep only its
-- SHA-256 (hex), which is what a delivery's token is hashed to and looked up by. Existing tokens
-- are hashed in place, so the URLs already registered with Everhour keep working.
UPDATE integrations
   SET hook_token = encode(sha256(convert_to(hook_token, 'UTF8')), 'hex')
 WHERE hook_token IS NOT NULL;
ALTER TABLE integrations RENAME COLUMN hook_token TO hook_token_hash;

UPDATE pending_hooks SET hook_token = encode(sha256(convert_to(hook_token, 'UTF8')), 'hex');
ALTER TABLE pending_hooks RENAME COLUMN hook_token TO hook_token_hash;
