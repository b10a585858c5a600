-- doable schema for SQLite. UUIDs are 16-byte BLOBs (sqlx's encoding),
-- timestamps are UTC text, booleans 0/1. The PostgreSQL migration says the
-- same in native types; keep the two in step.

CREATE TABLE users (
    id            BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    email         TEXT NOT NULL UNIQUE CHECK (length(email) BETWEEN 3 AND 254),
    name          TEXT CHECK (name IS NULL OR length(name) <= 100),
    password_hash TEXT NOT NULL,
    is_active     INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;

-- AUTOINCREMENT: ids are never reused, so a cursor or an undo can never
-- point at somebody else's later task.
CREATE TABLE tasks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title        TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 255),
    description  TEXT CHECK (description IS NULL OR length(description) <= 10000),
    -- Title and description case-folded by the application (full Unicode,
    -- which SQLite's lower() is not), for search.
    title_folded       TEXT NOT NULL,
    description_folded TEXT,
    completed    INTEGER NOT NULL DEFAULT 0 CHECK (completed IN (0, 1)),
    completed_at TEXT,
    due_date     TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;

-- "This user's tasks, newest first", with and without a status filter;
-- the second also answers the active/completed counts from the index alone.
CREATE INDEX tasks_by_owner ON tasks (user_id, id DESC);
CREATE INDEX tasks_by_owner_status ON tasks (user_id, completed, id DESC);

CREATE TABLE sessions (
    id                    BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    user_id               BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_hash          TEXT NOT NULL UNIQUE,
    created_at            TEXT NOT NULL,
    last_seen_at          TEXT NOT NULL,
    expires_at            TEXT NOT NULL,
    revoked_at            TEXT,
    user_agent            TEXT,
    ip                    TEXT
) STRICT;

CREATE INDEX sessions_by_owner ON sessions (user_id, created_at);
-- Every refresh token a session has spent, so a copy presented later —
-- however many rotations later — is recognised and revokes the session.
CREATE TABLE spent_refresh_tokens (
    hash       TEXT PRIMARY KEY NOT NULL,
    session_id BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    spent_at   TEXT NOT NULL
) STRICT;

CREATE INDEX spent_refresh_tokens_by_session ON spent_refresh_tokens (session_id);

-- What happened to an account, shown to its owner as "Recent activity".
CREATE TABLE security_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event      TEXT NOT NULL,
    ip         TEXT,
    user_agent TEXT,
    created_at TEXT NOT NULL
) STRICT;

CREATE INDEX security_events_by_user ON security_events (user_id, id DESC);

-- Throttled actions (failed sign-ins, sign-ups, reset requests), one row
-- each, counted per bucket over a sliding window. In the database so the
-- limits hold across instances.
CREATE TABLE throttle_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket     TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

CREATE INDEX throttle_events_by_bucket ON throttle_events (bucket, created_at);

-- Password-reset links, stored only as hashes; single use.
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
) STRICT;
