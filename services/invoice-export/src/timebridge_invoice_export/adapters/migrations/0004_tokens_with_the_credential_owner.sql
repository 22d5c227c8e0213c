-- The accounting tools' OAuth tokens are kept by their one owner, the credentials service, which
-- refreshes them under its lock and saves a rotated refresh token before handing out the access
-- token. invoice-export keeps no token: the sealed tokens go. A connection that held tokens here
-- cannot hand them over (no migration reaches another service's database): it asks its admin to
-- connect the tool again, which stores the new consent with the owner.
UPDATE accounting_connections
   SET status = 'needs_reauthorization',
       last_error = 'Timebridge now keeps accounting tokens in its credentials service:'
                    || ' connect this tool again'
 WHERE tokens_encrypted IS NOT NULL AND status IN ('connected', 'choose_tenant');
ALTER TABLE accounting_connections DROP COLUMN tokens_encrypted;
ALTER TABLE accounting_connections DROP COLUMN tokens_saved_at;
