-- Today and Upcoming (and their counts, on every page) read a range of
-- due dates, on the column itself (PostgreSQL's row-level security will
-- not take tasks_by_due's coalesce(…) to an index). The PostgreSQL
-- migration says the same.
CREATE INDEX tasks_due_live ON tasks (user_id, due_date) WHERE due_date IS NOT NULL AND deleted_at IS NULL;
