-- Housekeeping grows two duties (src/db/housekeeping.rs `purge` does the same on
-- SQLite; keep them in step):
-- * revoked sessions go, and with them (ON DELETE CASCADE) their spent
--   refresh tokens: a revoked session refuses every token already, so they
--   prove nothing and only take room;
-- * security events over a year old go (a count cap per user applies as
--   events are recorded).
-- The cutoff rule is unchanged: never later than a day ago, so whoever calls
-- it cannot sign anyone out or erase recent activity.
CREATE OR REPLACE FUNCTION doable_purge(cutoff timestamptz) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    AS $$
        DELETE FROM sessions WHERE expires_at < least(cutoff, now() - interval '1 day');
        DELETE FROM sessions WHERE revoked_at IS NOT NULL;
        DELETE FROM tasks WHERE deleted_at IS NOT NULL AND deleted_at < least(cutoff, now() - interval '1 day');
        DELETE FROM security_events WHERE created_at < now() - interval '365 days';
    $$;

-- CREATE OR REPLACE keeps the owner and grants but resets the settings.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION doable_purge(timestamptz) SET search_path = %I, pg_temp', current_schema());
END
$$;
