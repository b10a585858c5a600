//! Tasks. Every statement is scoped by `user_id` and runs [`as_user!`] (so on
//! PostgreSQL row-level security scopes it too): a task id that belongs to
//! someone else behaves exactly like one that does not exist.
//!
//! Deleting from the pages is undoable: [`trash`] and [`clear_completed`]
//! only mark tasks deleted (`deleted_at`), every other query sees live tasks
//! only, [`restore`] brings a deletion back within [`UNDO_WINDOW`], and
//! marked tasks older than that are purged at the owner's next deletion.

use sqlx::FromRow;
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

use super::{Db, DbResult, as_user, now};

/// How long a deletion can be undone.
pub const UNDO_WINDOW: Duration = Duration::seconds(30);

#[derive(Clone, Debug, FromRow, PartialEq, Eq)]
pub struct Task {
    pub id: i64,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub completed_at: Option<OffsetDateTime>,
    pub due_date: Option<Date>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

const COLUMNS: &str = "id, title, description, completed, completed_at, due_date, created_at, updated_at";

// The checked input types live with their parsers.
pub use crate::domain::{StatusFilter, TaskInput, TaskPatch};

/// Where a page of the (newest first) list starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// Skip this many tasks from the top: for a page number typed in a URL.
    Offset(i64),
    /// Tasks older than this id (the next page).
    After(i64),
    /// Tasks newer than this id (the previous page).
    Before(i64),
}

#[derive(Clone, Debug)]
pub struct ListQuery<'a> {
    pub status: StatusFilter,
    pub search: Option<&'a str>,
    pub position: Position,
    pub limit: i64,
}

#[derive(Debug)]
pub struct TaskPage {
    /// Newest first.
    pub tasks: Vec<Task>,
    pub has_newer: bool,
    pub has_older: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub active: i64,
    pub completed: i64,
}

/// How text is case-folded for search: in Rust, with full Unicode rules,
/// because SQLite's `lower()` folds only ASCII.
fn fold(text: &str) -> String {
    text.to_lowercase()
}

/// Escapes LIKE wildcards so a search for `50%` means those characters.
fn like_pattern(search: &str) -> String {
    let mut pattern = String::with_capacity(search.len() + 2);
    pattern.push('%');
    // Stored text has no control characters, and PostgreSQL refuses NUL.
    for c in fold(search).chars().filter(|c| !c.is_control()) {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// One page of the owner's tasks, by keyset on `id` (offset only for a bare
/// page number). Fetches one row more than asked to learn whether more exist.
pub async fn list(db: &Db, owner: Uuid, query: &ListQuery<'_>) -> DbResult<TaskPage> {
    let mut sql = format!("SELECT {COLUMNS} FROM tasks WHERE user_id = $1 AND deleted_at IS NULL");
    let mut next = 2;
    let mut param = |sql: &mut String, clause: &str| {
        // Every `?` in one clause is the same parameter (sqlx numbers `$n`
        // explicitly on both backends, so a repeat binds the same value).
        sql.push_str(&clause.replace('?', &format!("${next}")));
        next += 1;
    };
    if query.status != StatusFilter::All {
        param(&mut sql, " AND completed = ?");
    }
    if query.search.is_some() {
        param(&mut sql, " AND (title_folded LIKE ? ESCAPE '\\' OR description_folded LIKE ? ESCAPE '\\')");
    }
    let newest_first = !matches!(query.position, Position::Before(_));
    match query.position {
        Position::Offset(_) => {}
        Position::After(_) => param(&mut sql, " AND id < ?"),
        Position::Before(_) => param(&mut sql, " AND id > ?"),
    }
    sql.push_str(if newest_first { " ORDER BY id DESC" } else { " ORDER BY id ASC" });
    param(&mut sql, " LIMIT ?");
    if let Position::Offset(_) = query.position {
        param(&mut sql, " OFFSET ?");
    }

    let pattern = query.search.map(like_pattern);
    let mut tasks: Vec<Task> = as_user!(db, owner, conn => {
        let mut q = sqlx::query_as::<_, Task>(&sql).bind(owner);
        if query.status != StatusFilter::All {
            q = q.bind(query.status == StatusFilter::Completed);
        }
        if let Some(pattern) = &pattern {
            q = q.bind(pattern.clone());
        }
        match query.position {
            Position::Offset(_) => {}
            Position::After(id) | Position::Before(id) => q = q.bind(id),
        }
        q = q.bind(query.limit + 1);
        if let Position::Offset(offset) = query.position {
            q = q.bind(offset);
        }
        q.fetch_all(&mut *conn).await?
    });

    let more = tasks.len() as i64 > query.limit;
    tasks.truncate(query.limit as usize);
    Ok(match query.position {
        Position::Offset(offset) => TaskPage { tasks, has_newer: offset > 0, has_older: more },
        Position::After(_) => TaskPage { tasks, has_newer: true, has_older: more },
        Position::Before(_) => {
            tasks.reverse();
            TaskPage { tasks, has_newer: more, has_older: true }
        }
    })
}

pub async fn counts(db: &Db, owner: Uuid) -> DbResult<Counts> {
    let rows: Vec<(bool, i64)> = as_user!(db, owner, conn => {
        sqlx::query_as("SELECT completed, count(*) FROM tasks WHERE user_id = $1 AND deleted_at IS NULL GROUP BY completed")
            .bind(owner)
            .fetch_all(&mut *conn)
            .await?
    });
    let mut counts = Counts::default();
    for (completed, n) in rows {
        if completed { counts.completed = n } else { counts.active = n }
    }
    Ok(counts)
}

pub async fn get(db: &Db, owner: Uuid, id: i64) -> DbResult<Option<Task>> {
    let sql = format!("SELECT {COLUMNS} FROM tasks WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL");
    let task = as_user!(db, owner, conn => {
        sqlx::query_as::<_, Task>(&sql).bind(id).bind(owner).fetch_optional(&mut *conn).await?
    });
    Ok(task)
}

/// Creates a task unless the owner already holds `quota` live ones; `None`
/// then. (Deleted tasks await their purge for seconds only; counting live
/// ones lets the owner's index answer.) The
/// check and the insert are one statement. On PostgreSQL two creates at the
/// same instant may both see room, so the quota can be passed by as many
/// as run at once: it bounds storage, not an exact count.
pub async fn create(db: &Db, owner: Uuid, input: &TaskInput, quota: i64) -> DbResult<Option<Task>> {
    let now = now();
    let sql = format!(
        "INSERT INTO tasks (user_id, title, description, title_folded, description_folded, completed, due_date,
                            created_at, updated_at)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
         WHERE (SELECT count(*) FROM (SELECT 1 FROM tasks WHERE user_id = $1 AND deleted_at IS NULL LIMIT $10) AS held) < $10
         RETURNING {COLUMNS}"
    );
    let task = as_user!(db, owner, conn => {
        sqlx::query_as::<_, Task>(&sql)
            .bind(owner)
            .bind(&input.title)
            .bind(&input.description)
            .bind(fold(&input.title))
            .bind(input.description.as_deref().map(fold))
            .bind(false)
            .bind(input.due_date)
            .bind(now)
            .bind(now)
            .bind(quota)
            .fetch_optional(&mut *conn)
            .await?
    });
    Ok(task)
}

/// Applies `patch` in one statement, so concurrent changes to different
/// fields both land; `None` when the task is not the owner's.
pub async fn update(db: &Db, owner: Uuid, id: i64, patch: &TaskPatch) -> DbResult<Option<Task>> {
    let now = now();
    // completed_at keeps its first value while the task stays completed.
    let sql = format!(
        "UPDATE tasks SET
             title = CASE WHEN $1 THEN $2 ELSE title END,
             title_folded = CASE WHEN $1 THEN $3 ELSE title_folded END,
             description = CASE WHEN $4 THEN $5 ELSE description END,
             description_folded = CASE WHEN $4 THEN $6 ELSE description_folded END,
             due_date = CASE WHEN $7 THEN $8 ELSE due_date END,
             completed = CASE WHEN $9 THEN $10 ELSE completed END,
             completed_at = CASE WHEN $9 THEN (CASE WHEN $10 THEN coalesce(completed_at, $11) ELSE NULL END)
                                 ELSE completed_at END,
             updated_at = $12
         WHERE id = $13 AND user_id = $14 AND deleted_at IS NULL RETURNING {COLUMNS}"
    );
    let task = as_user!(db, owner, conn => {
        sqlx::query_as::<_, Task>(&sql)
            .bind(patch.title.is_some())
            .bind(patch.title.as_deref())
            .bind(patch.title.as_deref().map(fold))
            .bind(patch.description.is_some())
            .bind(patch.description.clone().flatten())
            .bind(patch.description.clone().flatten().as_deref().map(fold))
            .bind(patch.due_date.is_some())
            .bind(patch.due_date.flatten())
            .bind(patch.completed.is_some())
            .bind(patch.completed.unwrap_or(false))
            .bind(now)
            .bind(now)
            .bind(id)
            .bind(owner)
            .fetch_optional(&mut *conn)
            .await?
    });
    Ok(task)
}

/// Flips `completed` in one statement, so two quick clicks cannot race.
pub async fn toggle(db: &Db, owner: Uuid, id: i64) -> DbResult<Option<Task>> {
    let now = now();
    let sql = format!(
        "UPDATE tasks SET completed = NOT completed,
             completed_at = CASE WHEN completed THEN NULL ELSE $1 END,
             updated_at = $2
         WHERE id = $3 AND user_id = $4 AND deleted_at IS NULL RETURNING {COLUMNS}"
    );
    let task = as_user!(db, owner, conn => {
        sqlx::query_as::<_, Task>(&sql).bind(now).bind(now).bind(id).bind(owner).fetch_optional(&mut *conn).await?
    });
    Ok(task)
}

/// Deletes the owner's task for good (the JSON API, where clients keep
/// their own undo); false when there was none to delete.
pub async fn delete(db: &Db, owner: Uuid, id: i64) -> DbResult<bool> {
    let result = as_user!(db, owner, conn => {
        sqlx::query("DELETE FROM tasks WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL")
            .bind(id)
            .bind(owner)
            .execute(&mut *conn)
            .await?
            .rows_affected()
    });
    Ok(result == 1)
}

/// Up to `limit` of the owner's tasks after id `after`, oldest first: "Export
/// my data" reads them a page at a time, so it never holds them all.
pub async fn page_after(db: &Db, owner: Uuid, after: i64, limit: i64) -> DbResult<Vec<Task>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM tasks WHERE user_id = $1 AND deleted_at IS NULL AND id > $2 ORDER BY id LIMIT $3"
    );
    let tasks = as_user!(db, owner, conn => {
        sqlx::query_as::<_, Task>(&sql).bind(owner).bind(after).bind(limit).fetch_all(&mut *conn).await?
    });
    Ok(tasks)
}

/// Marks every live task completed (or every one active), in one statement.
/// Returns how many changed.
pub async fn set_all_completed(db: &Db, owner: Uuid, completed: bool) -> DbResult<u64> {
    let now = now();
    let changed = as_user!(db, owner, conn => {
        sqlx::query(
            "UPDATE tasks SET completed = $1,
                 completed_at = CASE WHEN $1 THEN coalesce(completed_at, $2) ELSE NULL END,
                 updated_at = $3
             WHERE user_id = $4 AND deleted_at IS NULL AND completed <> $1",
        )
        .bind(completed)
        .bind(now)
        .bind(now)
        .bind(owner)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    Ok(changed)
}

/// What one delete or "clear completed" removed, for the Undo offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deletion {
    pub batch: Uuid,
    pub count: i64,
    /// The title, when exactly one task was removed.
    pub title: Option<String>,
    pub deleted_at: OffsetDateTime,
}

impl Deletion {
    fn new(batch: Uuid, titles: Vec<String>, deleted_at: OffsetDateTime) -> Self {
        let count = titles.len() as i64;
        let title = if count == 1 { titles.into_iter().next() } else { None };
        Deletion { batch, count, title, deleted_at }
    }

    /// Seconds left to undo it, at `now`.
    pub fn seconds_left(&self, now: OffsetDateTime) -> i64 {
        (self.deleted_at + UNDO_WINDOW - now).whole_seconds().max(0)
    }
}

/// Removes deletions of the owner (`$1`) that can no longer be undone
/// (deleted before `$2`); each new deletion runs it first.
const PURGE_UNDONE: &str = "DELETE FROM tasks WHERE user_id = $1 AND deleted_at IS NOT NULL AND deleted_at < $2";

/// Deletes the owner's task, undoably; `None` when there was none to delete.
pub async fn trash(db: &Db, owner: Uuid, id: i64) -> DbResult<Option<Deletion>> {
    let now = now();
    let batch = Uuid::new_v4();
    let title: Option<String> = as_user!(db, owner, conn => {
        sqlx::query(PURGE_UNDONE).bind(owner).bind(now - UNDO_WINDOW).execute(&mut *conn).await?;
        sqlx::query_scalar(
            "UPDATE tasks SET deleted_at = $1, deleted_batch = $2
             WHERE id = $3 AND user_id = $4 AND deleted_at IS NULL RETURNING title",
        )
        .bind(now)
        .bind(batch)
        .bind(id)
        .bind(owner)
        .fetch_optional(&mut *conn)
        .await?
    });
    Ok(title.map(|title| Deletion::new(batch, vec![title], now)))
}

/// Deletes all the owner's completed tasks, undoably, as one deletion.
pub async fn clear_completed(db: &Db, owner: Uuid) -> DbResult<Deletion> {
    let now = now();
    let batch = Uuid::new_v4();
    let titles: Vec<String> = as_user!(db, owner, conn => {
        sqlx::query(PURGE_UNDONE).bind(owner).bind(now - UNDO_WINDOW).execute(&mut *conn).await?;
        sqlx::query_scalar(
            "UPDATE tasks SET deleted_at = $1, deleted_batch = $2
             WHERE user_id = $3 AND completed AND deleted_at IS NULL RETURNING title",
        )
        .bind(now)
        .bind(batch)
        .bind(owner)
        .fetch_all(&mut *conn)
        .await?
    });
    Ok(Deletion::new(batch, titles, now))
}

/// The owner's deletion `batch`, while it can still be undone.
pub async fn deletion(db: &Db, owner: Uuid, batch: Uuid) -> DbResult<Option<Deletion>> {
    let now = now();
    let rows: Vec<(String, OffsetDateTime)> = as_user!(db, owner, conn => {
        sqlx::query_as(
            "SELECT title, deleted_at FROM tasks
             WHERE user_id = $1 AND deleted_batch = $2 AND deleted_at IS NOT NULL AND deleted_at >= $3
             ORDER BY id DESC",
        )
        .bind(owner)
        .bind(batch)
        .bind(now - UNDO_WINDOW)
        .fetch_all(&mut *conn)
        .await?
    });
    let deleted_at = match rows.first() {
        Some((_, at)) => *at,
        None => return Ok(None),
    };
    Ok(Some(Deletion::new(batch, rows.into_iter().map(|(title, _)| title).collect(), deleted_at)))
}

/// Brings back the owner's deletion `batch` if it is still within the undo
/// window; the tasks restored (none when too late or not the owner's).
pub async fn restore(db: &Db, owner: Uuid, batch: Uuid) -> DbResult<Vec<String>> {
    let now = now();
    let titles = as_user!(db, owner, conn => {
        sqlx::query_scalar(
            "UPDATE tasks SET deleted_at = NULL, deleted_batch = NULL
             WHERE user_id = $1 AND deleted_batch = $2 AND deleted_at IS NOT NULL AND deleted_at >= $3
             RETURNING title",
        )
        .bind(owner)
        .bind(batch)
        .bind(now - UNDO_WINDOW)
        .fetch_all(&mut *conn)
        .await?
    });
    Ok(titles)
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn search_wildcards_are_escaped() {
        assert_eq!(like_pattern("50%_a\\B"), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn search_folds_unicode_and_drops_control_characters() {
        assert_eq!(like_pattern("ÉCRIRE\u{0}"), "%écrire%");
    }
}
