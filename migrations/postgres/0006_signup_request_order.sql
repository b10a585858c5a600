-- Which pending sign-up for an address is the newest: the one its next mail
-- is for (src/auth/signup.rs). created_at holds whole seconds; this is the
-- request's time in nanoseconds since 1970, so requests within one second
-- still have an order. 0 for requests made before this migration.
ALTER TABLE signup_requests ADD COLUMN requested_ns bigint NOT NULL DEFAULT 0;
