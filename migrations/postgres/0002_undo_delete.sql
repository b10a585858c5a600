-- Undo for deletes: a deleted task is kept, hidden, for the undo window and
-- purged afterwards. The same meaning as migrations/sqlite; keep them in step.

-- When it was deleted; NULL for a live task. Every query of live tasks says
-- `deleted_at IS NULL`.
ALTER TABLE tasks ADD COLUMN deleted_at timestamptz;
-- The deletion it was part of (one task, or one "clear completed"), so that
-- Undo restores exactly what that action removed.
ALTER TABLE tasks ADD COLUMN deleted_batch uuid;

-- The list and its counts read live tasks only: index just those.
DROP INDEX tasks_by_owner;
DROP INDEX tasks_by_owner_status;
CREATE INDEX tasks_by_owner ON tasks (user_id, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX tasks_by_owner_status ON tasks (user_id, completed, id DESC) WHERE deleted_at IS NULL;
-- Undo and purge find an owner's deleted tasks.
CREATE INDEX tasks_deleted_by_owner ON tasks (user_id, deleted_batch) WHERE deleted_at IS NOT NULL;
