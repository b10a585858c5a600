-- Sign-ups waiting for the link in their confirmation mail (with
-- SIGNUP_CONFIRMATION=email). The account is created only when the link is
-- used, so an address nobody confirms is never taken. The same meaning as
-- migrations/postgres (which has a 0003 of its own, row-level security, with
-- no SQLite counterpart); keep them in step.

CREATE TABLE signup_requests (
    token_hash    TEXT PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    name          TEXT CHECK (name IS NULL OR length(name) <= 100),
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL
) STRICT;

-- The hourly purge of expired requests, and spending every request for an
-- address once its account exists.
CREATE INDEX signup_requests_by_expiry ON signup_requests (expires_at);
CREATE INDEX signup_requests_by_email ON signup_requests (email);
