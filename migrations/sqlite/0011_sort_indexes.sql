-- The list's orders other than newest first (db::tasks::Sort), each read by
-- keyset from an index whose expression is written exactly as the query
-- writes it. The PostgreSQL migration says the same.
CREATE INDEX tasks_by_priority ON tasks (user_id, coalesce(priority, 5), id DESC);
CREATE INDEX tasks_by_due ON tasks (user_id, coalesce(due_date, '9999-12-31'), id DESC);
