-- Each user's live (not deleted) tasks, counted as they change, so the task
-- page's counts and the quota check on every create read one row instead of
-- counting every task. The triggers keep it exact; the PostgreSQL migration
-- does the same (keep them in step).
CREATE TABLE task_counts (
    user_id   BLOB PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    active    INTEGER NOT NULL DEFAULT 0,
    completed INTEGER NOT NULL DEFAULT 0
);

INSERT INTO task_counts (user_id, active, completed)
SELECT user_id, sum(NOT completed), sum(completed) FROM tasks WHERE deleted_at IS NULL GROUP BY user_id;

-- A new live task: the user's first creates the row.
CREATE TRIGGER tasks_counted_on_insert AFTER INSERT ON tasks WHEN NEW.deleted_at IS NULL
BEGIN
    INSERT INTO task_counts (user_id, active, completed) VALUES (NEW.user_id, NOT NEW.completed, NEW.completed)
    ON CONFLICT (user_id) DO UPDATE SET active = active + excluded.active, completed = completed + excluded.completed;
END;

-- Completed or reopened, deleted (undoably) or restored.
CREATE TRIGGER tasks_counted_on_update AFTER UPDATE OF completed, deleted_at ON tasks
BEGIN
    UPDATE task_counts
    SET active = active + (NEW.deleted_at IS NULL AND NOT NEW.completed) - (OLD.deleted_at IS NULL AND NOT OLD.completed),
        completed = completed + (NEW.deleted_at IS NULL AND NEW.completed) - (OLD.deleted_at IS NULL AND OLD.completed)
    WHERE user_id = NEW.user_id;
END;

-- A live task deleted for good (the API). Deleting the account removes the
-- row first; then there is nothing to update.
CREATE TRIGGER tasks_counted_on_delete AFTER DELETE ON tasks WHEN OLD.deleted_at IS NULL
BEGIN
    UPDATE task_counts SET active = active - (NOT OLD.completed), completed = completed - OLD.completed
    WHERE user_id = OLD.user_id;
END;
