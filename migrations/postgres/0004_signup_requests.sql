-- Sign-ups waiting for the link in their confirmation mail (with
-- SIGNUP_CONFIRMATION=email). The account is created only when the link is
-- used, so an address nobody confirms is never taken. The same meaning as
-- migrations/sqlite; keep them in step. No row-level security: a request
-- belongs to no user yet, and is found only by its token's hash.

CREATE TABLE signup_requests (
    token_hash    text PRIMARY KEY,
    email         text NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    name          text CHECK (name IS NULL OR char_length(name) <= 100),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);

-- The hourly purge of expired requests, and spending every request for an
-- address once its account exists.
CREATE INDEX signup_requests_by_expiry ON signup_requests (expires_at);
CREATE INDEX signup_requests_by_email ON signup_requests (email);

-- The application's role (0003) reads and writes it.
DO $$
BEGIN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON signup_requests TO %I', doable_app_role());
END
$$;
