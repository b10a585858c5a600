-- doable schema for PostgreSQL: the same meaning as migrations/sqlite in
-- native types. Keep the two in step.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE CHECK (char_length(email) BETWEEN 3 AND 254),
    name          text CHECK (name IS NULL OR char_length(name) <= 100),
    password_hash text NOT NULL,
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE tasks (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title        text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 255),
    description  text CHECK (description IS NULL OR char_length(description) <= 10000),
    -- Title and description case-folded by the application, for search.
    title_folded       text NOT NULL,
    description_folded text,
    completed    boolean NOT NULL DEFAULT false,
    completed_at timestamptz,
    due_date     date,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE INDEX tasks_by_owner ON tasks (user_id, id DESC);
CREATE INDEX tasks_by_owner_status ON tasks (user_id, completed, id DESC);

CREATE TABLE sessions (
    id                    uuid PRIMARY KEY,
    user_id               uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_hash          text NOT NULL UNIQUE,
    created_at            timestamptz NOT NULL,
    last_seen_at          timestamptz NOT NULL,
    expires_at            timestamptz NOT NULL,
    revoked_at            timestamptz,
    user_agent            text,
    ip                    text
);

CREATE INDEX sessions_by_owner ON sessions (user_id, created_at);
CREATE TABLE spent_refresh_tokens (
    hash       text PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    spent_at   timestamptz NOT NULL
);

CREATE INDEX spent_refresh_tokens_by_session ON spent_refresh_tokens (session_id);

CREATE TABLE security_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event      text NOT NULL,
    ip         text,
    user_agent text,
    created_at timestamptz NOT NULL
);

CREATE INDEX security_events_by_user ON security_events (user_id, id DESC);

CREATE TABLE throttle_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bucket     text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE INDEX throttle_events_by_bucket ON throttle_events (bucket, created_at);

CREATE TABLE password_resets (
    token_hash text PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
