-- A task's label names, kept on the task (a JSON array, by name) so that a
-- page reads them with its tasks at no cost: the correlated subquery of
-- migration 0015's first reads cost a page some 7 µs a task. Written by
-- db::labels with every change to a task's labels or a label's name; the
-- SQLite migration says the same.
ALTER TABLE tasks ADD COLUMN labels jsonb NOT NULL DEFAULT '[]';
UPDATE tasks SET labels = (
    SELECT coalesce(jsonb_agg(l.name ORDER BY l.name_folded), '[]'::jsonb)
    FROM task_labels tl JOIN labels l ON l.id = tl.label_id WHERE tl.task_id = tasks.id)
WHERE id IN (SELECT task_id FROM task_labels);
