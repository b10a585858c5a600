-- The session check that opens every transaction made on behalf of a
-- signed-in request (src/db/mod.rs, `as_user!`): it runs in the same round
-- trip, just before BEGIN, where the pool's role sees no one's rows yet, so
-- it runs as the tables' owner. It raises SQLSTATE DA401 unless session
-- `session` is `owner`'s, unrevoked, unexpired, and the account active (the
-- rule of db::sessions::live_user). Failing before BEGIN leaves the
-- connection outside any transaction; passing, it becomes part of the one
-- BEGIN opens.
CREATE FUNCTION doable_session_live(session uuid, owner uuid) RETURNS void
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.id = session AND s.user_id = owner AND s.revoked_at IS NULL AND s.expires_at > now() AND u.is_active
    ) THEN
        RAISE EXCEPTION 'the session has ended' USING ERRCODE = 'DA401';
    END IF;
END
$$;

DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION doable_session_live(uuid, uuid) SET search_path = %I, pg_temp', current_schema());
    REVOKE ALL ON FUNCTION doable_session_live(uuid, uuid) FROM PUBLIC;
    EXECUTE format('GRANT EXECUTE ON FUNCTION doable_session_live(uuid, uuid) TO %I', doable_app_role());
END
$$;
