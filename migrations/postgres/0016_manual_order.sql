-- Manual order (PRODUCT.md §7): a task's place within its list, a number
-- that sorts ascending. A move writes the one task, between its new
-- neighbours (db::tasks::move_task); a list is renumbered only when two
-- neighbours come too close to split. The SQLite migration says the same.
ALTER TABLE tasks ADD COLUMN position double precision NOT NULL DEFAULT 0;
-- Until now a list read newest first: keep that as its manual order.
UPDATE tasks SET position = -id;
-- "This list in manual order" (and its top, where new tasks go).
CREATE INDEX tasks_by_position ON tasks (user_id, list_id, position, id DESC);
