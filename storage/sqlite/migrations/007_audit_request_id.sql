-- The id of the HTTP request that caused an audit event (the X-Request-Id answer header and
-- the request_id of the JSON log lines), so an event can be matched with its request's log
-- lines. '' for events from the command line and for rows written before this migration.
ALTER TABLE audit_log ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
