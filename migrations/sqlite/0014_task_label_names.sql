-- A task's label names, kept on the task (a JSON array, by name) so that a
-- page reads them with its tasks at no cost. Written by db::labels with
-- every change to a task's labels or a label's name; the PostgreSQL
-- migration says the same.
ALTER TABLE tasks ADD COLUMN labels TEXT NOT NULL DEFAULT '[]';
UPDATE tasks SET labels = (
    SELECT json_group_array(l.name ORDER BY l.name_folded)
    FROM task_labels tl JOIN labels l ON l.id = tl.label_id WHERE tl.task_id = tasks.id)
WHERE id IN (SELECT task_id FROM task_labels);
