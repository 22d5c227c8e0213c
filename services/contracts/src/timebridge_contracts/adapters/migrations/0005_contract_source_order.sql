-- A contract announced by the home work system keeps the source's updated_at of the last
-- announcement applied: an older one (a retried delivery arriving after a newer one) is ignored.

ALTER TABLE contracts ADD COLUMN source_updated_at timestamptz;
