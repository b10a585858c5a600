-- Row-level security (PostgreSQL only; SQLite has neither roles nor
-- policies, and its 0003 does not exist).
--
-- The application filters every statement by the signed-in user; this makes
-- the database enforce the same rule, so a statement that forgot its filter
-- still returns nothing of anyone else's:
--
-- * The pool works as the role doable_app_<database> (or the one named by
--   DATABASE_APP_ROLE; or none, see below) (set on every
--   connection, see src/db/mod.rs). It may read and write the tables but
--   owns none, so the policies below apply to it. This migration, like every
--   one, runs as the DATABASE_URL user, which owns the tables and is not
--   subject to them. Roles are cluster-wide; one per database keeps a member
--   of another database's role (another doable on the same server) out.
-- * Each request's statements run in a transaction that first names its user:
--   `SELECT set_config('app.user_id', '<uuid>', true)` (`as_user!`). Without
--   it the setting is NULL or '' and the policies match no row.
-- * Two lookups must happen before a user is known, and run as the owner in
--   SECURITY DEFINER functions that answer no more than they must:
--   doable_refresh_token_owner (whose refresh token is this?) and doable_purge
--   (hourly housekeeping of expired rows).
--
-- A later migration that adds a table grants the app's role its privileges
-- (`doable_app_role()` names it; the default privileges set here cover only
-- tables made by this same owner) and, if the table holds a user's rows,
-- enables row-level security on it with the same policy.

DO $$
DECLARE
    -- Which role the application works as (src/db/mod.rs passes both
    -- settings; see "PostgreSQL without CREATEROLE" in the README):
    -- * by default one per database, made here (longer names would be cut to
    --   63 bytes anyway; cut them the same way everywhere);
    -- * DATABASE_APP_ROLE: one a DBA made, for a user who may not create
    --   roles;
    -- * DATABASE_ROW_LEVEL_SECURITY=off: none. The application then works as
    --   this user, the tables' owner, whom the policies below do not bind:
    --   only the application's own filters keep users apart.
    rls_off boolean := coalesce(current_setting('doable.row_level_security', true), '') = 'off';
    named name := nullif(current_setting('doable.app_role', true), '')::name;
    app name := CASE WHEN rls_off THEN current_user::name
                     ELSE coalesce(named, ('doable_app_' || current_database())::name) END;
BEGIN
    IF NOT rls_off THEN
        -- A DBA may have made it already (when the DATABASE_URL user may not).
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = app) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE', app);
        END IF;
        -- The migrating user must be able to become it (a superuser already
        -- can). From PostgreSQL 16 the creator of a role holds it WITH ADMIN
        -- but not SET, which is what `SET ROLE` needs; before 16 membership
        -- is enough.
        IF NOT pg_has_role(current_user, app,
                           CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'SET' ELSE 'MEMBER' END)
        THEN
            EXECUTE format('GRANT %I TO CURRENT_USER', app);
        END IF;
    END IF;
    -- Which role to become, for the application: fixed now, so that renaming
    -- the database later cannot silently change it.
    EXECUTE format('CREATE FUNCTION doable_app_role() RETURNS name LANGUAGE sql IMMUTABLE AS %L',
                   format('SELECT %L::name', app));

    IF NOT rls_off THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), app);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I', current_schema(), app);
        EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO %I', current_schema(), app);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I',
                       current_schema(), app);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE ON SEQUENCES TO %I', current_schema(), app);
        -- The bookkeeping of migrations is the owner's alone.
        EXECUTE format('REVOKE ALL ON _sqlx_migrations FROM %I', app);
    END IF;
END
$$;

-- The user this transaction acts for; NULL when none was named.
CREATE FUNCTION doable_current_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;

ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
CREATE POLICY tasks_of_the_user ON tasks
    USING (user_id = doable_current_user_id())
    WITH CHECK (user_id = doable_current_user_id());

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
CREATE POLICY sessions_of_the_user ON sessions
    USING (user_id = doable_current_user_id())
    WITH CHECK (user_id = doable_current_user_id());

-- Spent tokens belong to a session; the subquery is itself filtered by the
-- sessions policy.
ALTER TABLE spent_refresh_tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY spent_refresh_tokens_of_the_user ON spent_refresh_tokens
    USING (session_id IN (SELECT id FROM sessions))
    WITH CHECK (session_id IN (SELECT id FROM sessions));

ALTER TABLE security_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY security_events_of_the_user ON security_events
    USING (user_id = doable_current_user_id())
    WITH CHECK (user_id = doable_current_user_id());

-- Whose session a refresh token (current or spent) belongs to. The token is
-- a 256-bit secret and the answer only an id: enough to then open the
-- user's transaction, where the refresh itself happens under the policies.
CREATE FUNCTION doable_refresh_token_owner(token_hash text) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    AS $$
        SELECT user_id FROM sessions WHERE refresh_hash = token_hash
        UNION ALL
        SELECT s.user_id FROM spent_refresh_tokens t JOIN sessions s ON s.id = t.session_id
        WHERE t.hash = token_hash
        LIMIT 1
    $$;

-- Housekeeping across all users: sessions expired and deletions past undo
-- before `cutoff`, which is never later than a day ago (whoever calls it
-- cannot sign everyone out). Reads nothing back.
CREATE FUNCTION doable_purge(cutoff timestamptz) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    AS $$
        DELETE FROM sessions WHERE expires_at < least(cutoff, now() - interval '1 day');
        DELETE FROM tasks WHERE deleted_at IS NOT NULL AND deleted_at < least(cutoff, now() - interval '1 day');
    $$;

-- SECURITY DEFINER functions resolve names only in this schema (temporary
-- tables last, so none can stand in for ours), and only the app's role calls
-- them.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION doable_refresh_token_owner(text) SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION doable_purge(timestamptz) SET search_path = %I, pg_temp', current_schema());
    REVOKE ALL ON FUNCTION doable_refresh_token_owner(text), doable_purge(timestamptz) FROM PUBLIC;
    EXECUTE format('GRANT EXECUTE ON FUNCTION doable_refresh_token_owner(text), doable_purge(timestamptz) TO %I',
                   doable_app_role());
END
$$;
