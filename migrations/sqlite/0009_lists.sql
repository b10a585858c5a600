-- Lists (PRODUCT.md §7): every task belongs to one list of its owner's;
-- every user has exactly one Inbox, made with the account and never
-- deleted. The PostgreSQL migration says the same (keep them in step);
-- where SQLite cannot alter a table's constraints, triggers say it.

CREATE TABLE lists (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- The name case-folded by the application (full Unicode): names are
    -- unique per user regardless of case.
    name_folded TEXT NOT NULL,
    colour      TEXT CHECK (colour IS NULL OR length(colour) <= 20),
    archived    INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
    is_inbox    INTEGER NOT NULL DEFAULT 0 CHECK (is_inbox IN (0, 1)),
    -- Live tasks not done and done, kept by the triggers below like task_counts.
    open_count  INTEGER NOT NULL DEFAULT 0,
    done_count  INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (user_id, id),
    UNIQUE (user_id, name_folded),
    CHECK (NOT (is_inbox AND archived))
) STRICT;
CREATE UNIQUE INDEX lists_one_inbox ON lists (user_id) WHERE is_inbox;

INSERT INTO lists (user_id, name, name_folded, is_inbox, created_at, updated_at)
SELECT id, 'Inbox', 'inbox', 1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), strftime('%Y-%m-%dT%H:%M:%SZ', 'now') FROM users;

-- Deleting a list deletes its tasks (the application moves them first
-- when asked to keep them).
ALTER TABLE tasks ADD COLUMN list_id INTEGER REFERENCES lists (id) ON DELETE CASCADE;
UPDATE tasks SET list_id = (SELECT id FROM lists WHERE lists.user_id = tasks.user_id AND is_inbox);
UPDATE lists SET
    open_count = (SELECT count(*) FROM tasks WHERE tasks.list_id = lists.id AND NOT completed AND deleted_at IS NULL),
    done_count = (SELECT count(*) FROM tasks WHERE tasks.list_id = lists.id AND completed AND deleted_at IS NULL);
-- "This list's tasks, newest first".
CREATE INDEX tasks_by_list ON tasks (user_id, list_id, id DESC);

-- A task's list is always its owner's (PostgreSQL: a foreign key on
-- (user_id, list_id)).
CREATE TRIGGER tasks_in_an_own_list BEFORE INSERT ON tasks
WHEN NEW.list_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM lists WHERE id = NEW.list_id AND user_id = NEW.user_id)
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: a task''s list is its owner''s');
END;
CREATE TRIGGER tasks_stay_in_an_own_list BEFORE UPDATE OF list_id, user_id ON tasks
WHEN NEW.list_id IS NULL OR NOT EXISTS (SELECT 1 FROM lists WHERE id = NEW.list_id AND user_id = NEW.user_id)
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: a task''s list is its owner''s');
END;

-- A task written without a list goes to its owner's Inbox (PostgreSQL: a
-- BEFORE trigger; here the row is completed right after it is written, in
-- the same statement).
CREATE TRIGGER tasks_to_inbox AFTER INSERT ON tasks WHEN NEW.list_id IS NULL
BEGIN
    UPDATE tasks SET list_id = (SELECT id FROM lists WHERE user_id = NEW.user_id AND is_inbox) WHERE id = NEW.id;
END;

-- A user's Inbox comes with the account.
CREATE TRIGGER users_get_an_inbox AFTER INSERT ON users
BEGIN
    INSERT INTO lists (user_id, name, name_folded, is_inbox, created_at, updated_at)
    VALUES (NEW.id, 'Inbox', 'inbox', 1, NEW.created_at, NEW.created_at);
END;

-- Open and done tasks per list, as 0007 counts them per user. (A task put
-- in the Inbox by tasks_to_inbox is counted by the update trigger.)
CREATE TRIGGER lists_counted_on_insert AFTER INSERT ON tasks
WHEN NEW.deleted_at IS NULL AND NEW.list_id IS NOT NULL
BEGIN
    UPDATE lists SET open_count = open_count + (NOT NEW.completed), done_count = done_count + NEW.completed
    WHERE id = NEW.list_id;
END;
CREATE TRIGGER lists_counted_on_update AFTER UPDATE OF completed, deleted_at, list_id ON tasks
BEGIN
    UPDATE lists SET open_count = open_count - (NOT OLD.completed), done_count = done_count - OLD.completed
    WHERE id = OLD.list_id AND OLD.deleted_at IS NULL;
    UPDATE lists SET open_count = open_count + (NOT NEW.completed), done_count = done_count + NEW.completed
    WHERE id = NEW.list_id AND NEW.deleted_at IS NULL;
END;
CREATE TRIGGER lists_counted_on_delete AFTER DELETE ON tasks WHEN OLD.deleted_at IS NULL
BEGIN
    UPDATE lists SET open_count = open_count - (NOT OLD.completed), done_count = done_count - OLD.completed
    WHERE id = OLD.list_id;
END;
