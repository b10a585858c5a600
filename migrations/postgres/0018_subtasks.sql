-- Subtasks (PRODUCT.md §7): a task may name a parent, one level deep, in
-- the parent's list. db::tasks keeps the one level and the list (under
-- the owner's tree lock); the key keeps the parent the owner's own, and a
-- parent's deletion takes its subtasks with it. The SQLite migration says
-- the same (keep them in step).
ALTER TABLE tasks ADD COLUMN parent_id bigint CHECK (parent_id <> id);
ALTER TABLE tasks ADD CONSTRAINT tasks_parent_is_the_owners
    FOREIGN KEY (user_id, parent_id) REFERENCES tasks (user_id, id) ON DELETE CASCADE;
-- "This task's subtasks", newest first; the key's cascade and a parent's
-- progress read it too.
CREATE INDEX tasks_by_parent ON tasks (user_id, parent_id, id DESC) WHERE parent_id IS NOT NULL;
