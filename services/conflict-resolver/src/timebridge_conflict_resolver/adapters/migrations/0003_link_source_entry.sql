-- The source entry in its own system's ids as last synced (or as Timebridge carried an edit of
-- its copy back to it): the baseline that tells whether the origin changed meanwhile. Null for
-- links from before, which fall back to reviewing an edited copy instead of carrying it back.
ALTER TABLE sync_links ADD COLUMN source_entry jsonb;
