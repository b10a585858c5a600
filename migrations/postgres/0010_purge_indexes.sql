-- Indexes for the hourly purge's filters, so each batch finds its rows
-- through an index instead of scanning a table of millions (a year of
-- security events, every session ever issued). The session rule of 0009
-- (expired OR revoked) becomes two statements, one per index. The rules
-- are otherwise those of 0009; src/db/housekeeping.rs does the same on
-- SQLite (keep them in step), and postgres::every_hot_query_is_answered_from_an_index
-- asserts the plans.
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX tasks_deleted_by_age ON tasks (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX security_events_by_age ON security_events (created_at);
CREATE INDEX throttle_events_by_age ON throttle_events (created_at);
CREATE INDEX password_resets_by_expiry ON password_resets (expires_at);

CREATE OR REPLACE FUNCTION doable_purge_batch(cutoff timestamptz, batch integer) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    AS $$
DECLARE
    safe timestamptz := least(cutoff, now() - interval '1 day');
    n bigint;
    total bigint := 0;
BEGIN
    DELETE FROM sessions WHERE id IN (
        SELECT id FROM sessions WHERE expires_at < safe LIMIT batch);
    GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
    DELETE FROM sessions WHERE id IN (
        SELECT id FROM sessions WHERE revoked_at IS NOT NULL LIMIT batch);
    GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
    DELETE FROM tasks WHERE id IN (
        SELECT id FROM tasks WHERE deleted_at IS NOT NULL AND deleted_at < safe LIMIT batch);
    GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
    DELETE FROM security_events WHERE id IN (
        SELECT id FROM security_events WHERE created_at < now() - interval '365 days' LIMIT batch);
    GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
    RETURN total;
END
$$;

-- CREATE OR REPLACE keeps the owner and grants but resets the settings.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION doable_purge_batch(timestamptz, integer) SET search_path = %I, pg_temp', current_schema());
END
$$;
