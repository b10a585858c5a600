-- Labels (PRODUCT.md §7): a user's own tags, many to many with their
-- tasks. The SQLite migration says the same (keep them in step).

CREATE TABLE labels (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 50),
    -- Case-folded by the application, as lists.name_folded: unique per
    -- user regardless of case, and what the label filter matches.
    name_folded text NOT NULL,
    colour      text CHECK (colour IS NULL OR char_length(colour) <= 20),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    UNIQUE (user_id, id),
    UNIQUE (user_id, name_folded)
);

-- What a task's labels reference: a task of the same owner.
ALTER TABLE tasks ADD UNIQUE (user_id, id);

CREATE TABLE task_labels (
    user_id  uuid NOT NULL,
    task_id  bigint NOT NULL,
    label_id bigint NOT NULL,
    PRIMARY KEY (task_id, label_id),
    FOREIGN KEY (user_id, task_id) REFERENCES tasks (user_id, id) ON DELETE CASCADE,
    FOREIGN KEY (user_id, label_id) REFERENCES labels (user_id, id) ON DELETE CASCADE
);
-- "The tasks with this label, newest first" (the filter, a label's count,
-- a merge).
CREATE INDEX task_labels_by_label ON task_labels (label_id, task_id DESC);

ALTER TABLE labels ENABLE ROW LEVEL SECURITY;
CREATE POLICY labels_of_the_user ON labels
    USING (user_id = doable_current_user_id())
    WITH CHECK (user_id = doable_current_user_id());
ALTER TABLE task_labels ENABLE ROW LEVEL SECURITY;
CREATE POLICY task_labels_of_the_user ON task_labels
    USING (user_id = doable_current_user_id())
    WITH CHECK (user_id = doable_current_user_id());

DO $$
BEGIN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON labels, task_labels TO %I', doable_app_role());
END
$$;
