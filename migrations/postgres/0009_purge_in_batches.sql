-- The hourly purge in bounded batches: at most `batch` rows of each table a
-- call, and the number deleted, so the caller repeats until nothing is left
-- and no single statement holds locks on a million rows. The rules are
-- those of 0007 (src/db/housekeeping.rs does the same on SQLite; keep them
-- in step): never later than a day ago, whatever the caller asks.
CREATE FUNCTION doable_purge_batch(cutoff timestamptz, batch integer) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    AS $$
DECLARE
    safe timestamptz := least(cutoff, now() - interval '1 day');
    n bigint;
    total bigint := 0;
BEGIN
    DELETE FROM sessions WHERE id IN (
        SELECT id FROM sessions WHERE expires_at < safe OR revoked_at IS NOT NULL LIMIT batch);
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

DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION doable_purge_batch(timestamptz, integer) SET search_path = %I, pg_temp', current_schema());
    REVOKE ALL ON FUNCTION doable_purge_batch(timestamptz, integer) FROM PUBLIC;
    EXECUTE format('GRANT EXECUTE ON FUNCTION doable_purge_batch(timestamptz, integer) TO %I', doable_app_role());
END
$$;

-- Replaced by the batched function.
DROP FUNCTION doable_purge(timestamptz);
