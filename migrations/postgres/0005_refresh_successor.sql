-- A refresh token presented again inside the grace window (two tabs or two
-- threads of one client renewing at once) is answered with the successor its
-- first use produced, never with a new chain of its own. The successor is
-- kept sealed: XOR-ed with SHA-256 of a fixed prefix and the spent token
-- (not the stored hash, SHA-256 of the token alone), so only whoever holds
-- that token can open it, and a copy of the database hands out no usable
-- refresh token. NULL for tokens spent before this migration (no grace).
ALTER TABLE spent_refresh_tokens ADD COLUMN successor text;
