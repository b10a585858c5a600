-- Labels (PRODUCT.md §7): a user's own tags, many to many with their
-- tasks. The PostgreSQL migration says the same (keep them in step);
-- where SQLite cannot reference (user_id, id) of tasks, a trigger says it.

CREATE TABLE labels (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    name_folded TEXT NOT NULL,
    colour      TEXT CHECK (colour IS NULL OR length(colour) <= 20),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (user_id, id),
    UNIQUE (user_id, name_folded)
) STRICT;

CREATE TABLE task_labels (
    user_id  BLOB NOT NULL,
    task_id  INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    label_id INTEGER NOT NULL,
    PRIMARY KEY (task_id, label_id),
    FOREIGN KEY (user_id, label_id) REFERENCES labels (user_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX task_labels_by_label ON task_labels (label_id, task_id DESC);

-- A task's labels are on its owner's task (PostgreSQL: a foreign key on
-- (user_id, task_id)).
CREATE TRIGGER task_labels_on_an_own_task BEFORE INSERT ON task_labels
WHEN NOT EXISTS (SELECT 1 FROM tasks WHERE id = NEW.task_id AND user_id = NEW.user_id)
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: a label is on its owner''s task');
END;
