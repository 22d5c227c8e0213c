-- An OAuth tracker connected from the console with "Import history from" (issue 11): the day
-- the admin chose is kept with the consent's state, and the initial import starts once the
-- consent has connected the integration (NULL: no import asked for).
ALTER TABLE oauth_states ADD COLUMN history_from date;
