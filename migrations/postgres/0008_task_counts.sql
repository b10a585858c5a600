-- Each user's live (not deleted) tasks, counted as they change, so the task
-- page's counts and the quota check on every create read one row instead of
-- counting every task. The trigger keeps it exact; the SQLite migration does
-- the same (keep them in step). The trigger runs as whoever changes the
-- task, so under the application's role it writes only that user's row.
CREATE TABLE task_counts (
    user_id   uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    active    bigint NOT NULL DEFAULT 0,
    completed bigint NOT NULL DEFAULT 0
);

INSERT INTO task_counts (user_id, active, completed)
SELECT user_id, count(*) FILTER (WHERE NOT completed), count(*) FILTER (WHERE completed)
FROM tasks WHERE deleted_at IS NULL GROUP BY user_id;

CREATE FUNCTION doable_count_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.deleted_at IS NULL THEN
        UPDATE task_counts
        SET active = active - (NOT OLD.completed)::int, completed = completed - OLD.completed::int
        WHERE user_id = OLD.user_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.deleted_at IS NULL THEN
        INSERT INTO task_counts AS counted (user_id, active, completed)
        VALUES (NEW.user_id, (NOT NEW.completed)::int, NEW.completed::int)
        ON CONFLICT (user_id) DO UPDATE
        SET active = counted.active + excluded.active, completed = counted.completed + excluded.completed;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tasks_counted AFTER INSERT OR DELETE OR UPDATE OF completed, deleted_at ON tasks
    FOR EACH ROW EXECUTE FUNCTION doable_count_tasks();

ALTER TABLE task_counts ENABLE ROW LEVEL SECURITY;
CREATE POLICY task_counts_of_the_user ON task_counts
    USING (user_id = doable_current_user_id())
    WITH CHECK (user_id = doable_current_user_id());

DO $$
BEGIN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON task_counts TO %I', doable_app_role());
END
$$;
