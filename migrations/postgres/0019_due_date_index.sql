-- Today and Upcoming (and their counts, on every page) read a range of
-- due dates. Under row-level security PostgreSQL uses an index only for
-- leakproof conditions, which `coalesce(due_date, …)` (tasks_by_due's
-- expression, for sorting) is not: the counts read every task of the
-- owner's. The views compare the column itself, answered from here. The
-- SQLite migration says the same.
CREATE INDEX tasks_due_live ON tasks (user_id, due_date) WHERE due_date IS NOT NULL AND deleted_at IS NULL;
