-- Lists (PRODUCT.md §7): every task belongs to one list of its owner's;
-- every user has exactly one Inbox, made with the account and never
-- deleted. The SQLite migration says the same (keep them in step).

CREATE TABLE lists (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    -- The name case-folded by the application: names are unique per user
    -- regardless of case.
    name_folded text NOT NULL,
    colour      text CHECK (colour IS NULL OR char_length(colour) <= 20),
    archived    boolean NOT NULL DEFAULT false,
    is_inbox    boolean NOT NULL DEFAULT false,
    -- Live tasks not done and done, kept by the trigger below like task_counts.
    open_count  bigint NOT NULL DEFAULT 0,
    done_count  bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    -- What tasks reference: a task's list is always its owner's.
    UNIQUE (user_id, id),
    UNIQUE (user_id, name_folded),
    CHECK (NOT (is_inbox AND archived))
);
CREATE UNIQUE INDEX lists_one_inbox ON lists (user_id) WHERE is_inbox;

INSERT INTO lists (user_id, name, name_folded, is_inbox, created_at, updated_at)
SELECT id, 'Inbox', 'inbox', true, now(), now() FROM users;

ALTER TABLE tasks ADD COLUMN list_id bigint;
UPDATE tasks t SET list_id = l.id FROM lists l WHERE l.user_id = t.user_id AND l.is_inbox;
UPDATE lists l SET
    open_count = (SELECT count(*) FROM tasks t WHERE t.list_id = l.id AND NOT t.completed AND t.deleted_at IS NULL),
    done_count = (SELECT count(*) FROM tasks t WHERE t.list_id = l.id AND t.completed AND t.deleted_at IS NULL);
ALTER TABLE tasks ALTER COLUMN list_id SET NOT NULL;
ALTER TABLE tasks ADD FOREIGN KEY (user_id, list_id) REFERENCES lists (user_id, id) ON DELETE CASCADE;
-- "This list's tasks, newest first".
CREATE INDEX tasks_by_list ON tasks (user_id, list_id, id DESC);

-- A task written without a list goes to its owner's Inbox (and a user's
-- Inbox comes with the account), whoever writes it.
CREATE FUNCTION doable_task_to_inbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.list_id IS NULL THEN
        SELECT id INTO NEW.list_id FROM lists WHERE user_id = NEW.user_id AND is_inbox;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER tasks_to_inbox BEFORE INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION doable_task_to_inbox();

-- Runs as the owner (a new account has no rows row-level security would
-- let the app's role write yet) and writes only the new user's Inbox.
CREATE FUNCTION doable_make_inbox() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    INSERT INTO lists (user_id, name, name_folded, is_inbox, created_at, updated_at)
    VALUES (NEW.id, 'Inbox', 'inbox', true, NEW.created_at, NEW.created_at);
    RETURN NULL;
END
$$;
CREATE TRIGGER users_get_an_inbox AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION doable_make_inbox();

-- The counts of 0008, now also per list.
CREATE OR REPLACE FUNCTION doable_count_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.deleted_at IS NULL THEN
        UPDATE task_counts
        SET active = active - (NOT OLD.completed)::int, completed = completed - OLD.completed::int
        WHERE user_id = OLD.user_id;
        UPDATE lists
        SET open_count = open_count - (NOT OLD.completed)::int, done_count = done_count - OLD.completed::int
        WHERE id = OLD.list_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.deleted_at IS NULL THEN
        INSERT INTO task_counts AS counted (user_id, active, completed)
        VALUES (NEW.user_id, (NOT NEW.completed)::int, NEW.completed::int)
        ON CONFLICT (user_id) DO UPDATE
        SET active = counted.active + excluded.active, completed = counted.completed + excluded.completed;
        UPDATE lists
        SET open_count = open_count + (NOT NEW.completed)::int, done_count = done_count + NEW.completed::int
        WHERE id = NEW.list_id;
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER tasks_counted ON tasks;
CREATE TRIGGER tasks_counted AFTER INSERT OR DELETE OR UPDATE OF completed, deleted_at, list_id ON tasks
    FOR EACH ROW EXECUTE FUNCTION doable_count_tasks();

ALTER TABLE lists ENABLE ROW LEVEL SECURITY;
CREATE POLICY lists_of_the_user ON lists
    USING (user_id = doable_current_user_id())
    WITH CHECK (user_id = doable_current_user_id());

DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION doable_make_inbox() SET search_path = %I, pg_temp', current_schema());
    REVOKE ALL ON FUNCTION doable_make_inbox() FROM PUBLIC;
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON lists TO %I', doable_app_role());
END
$$;
