-- Subtasks (PRODUCT.md §7): a task may name a parent, one level deep, in
-- the parent's list. db::tasks keeps the one level and the list; the key
-- and the trigger keep the parent the owner's own, and a parent's deletion
-- takes its subtasks with it. The PostgreSQL migration says the same.
ALTER TABLE tasks ADD COLUMN parent_id INTEGER REFERENCES tasks (id) ON DELETE CASCADE CHECK (parent_id <> id);
-- "This task's subtasks", newest first; the key's cascade and a parent's
-- progress read it too.
CREATE INDEX tasks_by_parent ON tasks (parent_id, id DESC) WHERE parent_id IS NOT NULL;

-- PostgreSQL: a foreign key on (user_id, parent_id).
CREATE TRIGGER tasks_parent_is_the_owners BEFORE INSERT ON tasks
WHEN NEW.parent_id IS NOT NULL
 AND NOT EXISTS (SELECT 1 FROM tasks WHERE id = NEW.parent_id AND user_id = NEW.user_id)
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: a subtask''s parent is its owner''s task');
END;
CREATE TRIGGER tasks_parent_stays_the_owners BEFORE UPDATE OF parent_id ON tasks
WHEN NEW.parent_id IS NOT NULL
 AND NOT EXISTS (SELECT 1 FROM tasks WHERE id = NEW.parent_id AND user_id = NEW.user_id)
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: a subtask''s parent is its owner''s task');
END;
