-- Indexes for the hourly purge's filters (src/db/housekeeping.rs), so each
-- batch finds its rows through an index instead of scanning a table of
-- millions. The PostgreSQL migration (0010) does the same; keep them in step.
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX tasks_deleted_by_age ON tasks (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX security_events_by_age ON security_events (created_at);
CREATE INDEX throttle_events_by_age ON throttle_events (created_at);
CREATE INDEX password_resets_by_expiry ON password_resets (expires_at);
