-- Row-level security (PostgreSQL only; SQLite has neither roles nor
-- policies, and its 0003 does not exist).
--
-- The application filters every statement by the signed-in user; this makes
-- the database enforce the same rule, so a statement that forgot its filter
-- still returns nothing of anyone else's:
--
-- * The pool works as the role doable_app (`SET ROLE` on every connection,
--   see src/db/mod.rs). It may read and write the tables but owns none, so
--   the policies below apply to it. This migration, like every one, runs as
--   the DATABASE_URL user, which owns the tables and is not subject to them.
-- * Each request's statements run in a transaction that first names its user:
--   `SELECT set_config('app.user_id', '<uuid>', true)` (`as_user!`). Without
--   it the setting is NULL or '' and the policies match no row.
-- * Two lookups must happen before a user is known, and run as the owner in
--   SECURITY DEFINER functions that answer no more than they must:
--   doable_refresh_token_owner (whose refresh token is this?) and doable_purge
--   (hourly housekeeping of expired rows).
--
-- A later migration that adds a table holding a user's rows enables row-level
-- security on it with the same policy. (Privileges for new tables follow from
-- the default privileges granted at the end.)

-- The role is cluster-wide, so another database (or a DBA) may have made it
-- already; two databases migrating at once may race to make it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'doable_app') THEN
        CREATE ROLE doable_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- The migrating user must be able to become doable_app (`SET ROLE`); a
-- superuser, or a user a DBA granted the role to, already can.
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'doable_app', 'MEMBER') THEN
        GRANT doable_app TO CURRENT_USER;
    END IF;
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO doable_app', current_schema());
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO doable_app', current_schema());
    EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO doable_app', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO doable_app',
                   current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE ON SEQUENCES TO doable_app', current_schema());
END
$$;
-- The bookkeeping of migrations is the owner's alone.
REVOKE ALL ON _sqlx_migrations FROM doable_app;

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
-- before `cutoff`. Reads nothing back.
CREATE FUNCTION doable_purge(cutoff timestamptz) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    AS $$
        DELETE FROM sessions WHERE expires_at < cutoff;
        DELETE FROM tasks WHERE deleted_at IS NOT NULL AND deleted_at < cutoff;
    $$;

-- SECURITY DEFINER functions resolve names only in this schema (temporary
-- tables last, so none can stand in for ours), and only doable_app calls them.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION doable_refresh_token_owner(text) SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION doable_purge(timestamptz) SET search_path = %I, pg_temp', current_schema());
END
$$;
REVOKE ALL ON FUNCTION doable_refresh_token_owner(text), doable_purge(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION doable_refresh_token_owner(text), doable_purge(timestamptz) TO doable_app;
