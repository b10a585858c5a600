//! Labels: a user's own tags, many to many with their tasks (`task_labels`).
//! Like `tasks` and `lists`, every statement is scoped by `user_id` and runs
//! in [`as_user!`]: another user's label id behaves exactly like one that
//! does not exist. A task names its labels by name (PRODUCT.md §7); names
//! it gives that the owner has not made yet are made then
//! ([`set_labels!`]), within the owner's `MAX_LABELS_PER_USER`.
//!
//! On PostgreSQL every write to an owner's labels first takes the owner's
//! label lock ([`LABEL_LOCK`]), so the quota check and the names a task
//! makes cannot interleave with another request's.

use sqlx::FromRow;
use time::OffsetDateTime;

use super::{DbResult, UserDb, as_user, fold, now};

#[derive(Clone, Debug, FromRow, PartialEq, Eq)]
pub struct Label {
    pub id: i64,
    pub name: String,
    pub colour: Option<String>,
    /// The owner's live tasks that carry it.
    pub task_count: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A label as the navigation and the task forms know it, read with the
/// task page in the same statement (`tasks::list_checked`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct LabelSummary {
    pub id: i64,
    pub name: String,
    pub colour: Option<String>,
}

/// The columns of [`Label`], its count read through `task_labels_by_label`.
const COLUMNS: &str = "id, name, colour,
    (SELECT count(*) FROM task_labels tl JOIN tasks t ON t.id = tl.task_id
     WHERE tl.label_id = labels.id AND t.deleted_at IS NULL) AS task_count,
    created_at, updated_at";

/// The owner's (`$1`) labels as a JSON array of [`LabelSummary`], by name.
pub(super) fn summaries_json(postgres: bool) -> &'static str {
    if postgres {
        "(SELECT coalesce(json_agg(json_build_object('id', id, 'name', name, 'colour', colour)
             ORDER BY name_folded, id), '[]')::text FROM labels WHERE user_id = "
    } else {
        "(SELECT json_group_array(json_object('id', id, 'name', name, 'colour', colour) ORDER BY name_folded, id)
             FROM labels WHERE user_id = "
    }
}

/// Writes `tasks.labels` (the names a task shows, by name: decision 0019)
/// again for the owner's (`$1`) tasks that carry label `$2`, leaving out
/// label `$3` (a label about to be deleted; 0 leaves out none).
fn refresh_names(postgres: bool) -> &'static str {
    if postgres {
        "UPDATE tasks SET labels = (
             SELECT coalesce(jsonb_agg(l.name ORDER BY l.name_folded), '[]'::jsonb)
             FROM task_labels tl JOIN labels l ON l.id = tl.label_id WHERE tl.task_id = tasks.id AND l.id <> $3)
         WHERE user_id = $1 AND id IN (SELECT task_id FROM task_labels WHERE label_id = $2)"
    } else {
        "UPDATE tasks SET labels = (
             SELECT json_group_array(l.name ORDER BY l.name_folded)
             FROM task_labels tl JOIN labels l ON l.id = tl.label_id WHERE tl.task_id = tasks.id AND l.id <> $3)
         WHERE user_id = $1 AND id IN (SELECT task_id FROM task_labels WHERE label_id = $2)"
    }
}

/// PostgreSQL: what every write to an owner's labels queues on first.
pub(super) const LABEL_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7034))";

/// Gives the task `$task` of `$db`'s owner exactly the labels `$names`
/// (checked names: `domain::parse_labels`), making those the owner does not
/// have yet unless that would take them past `$quota` labels. Evaluates to
/// the task's label names as stored, by name, or `None` when the quota
/// stops it (the caller rolls back). Runs in the caller's transaction
/// (`as_user!(.., atomically ..)`), on `$conn`.
macro_rules! set_labels {
    ($conn:ident, $db:expr, $task:expr, $names:expr, $quota:expr) => {{
        let (owner, task, names): (uuid::Uuid, i64, &[String]) = ($db.owner(), $task, $names);
        if $db.is_postgres() {
            sqlx::query($crate::db::labels::LABEL_LOCK).bind(owner).execute(&mut *$conn).await?;
        }
        let folded: Vec<String> = names.iter().map(|name| $crate::db::fold(name)).collect();
        let mut found: Vec<(i64, String, String)> = Vec::new();
        if !names.is_empty() {
            let mut q = sqlx::QueryBuilder::new("SELECT id, name, name_folded FROM labels WHERE user_id = ");
            q.push_bind(owner).push(" AND name_folded IN (");
            let mut list = q.separated(", ");
            for name in &folded {
                list.push_bind(name.clone());
            }
            q.push(")");
            found = q.build_query_as().fetch_all(&mut *$conn).await?;
        }
        let missing: Vec<usize> = (0..names.len()).filter(|i| !found.iter().any(|f| f.2 == folded[*i])).collect();
        let mut room = true;
        if !missing.is_empty() {
            let held: i64 = sqlx::query_scalar("SELECT count(*) FROM labels WHERE user_id = $1")
                .bind(owner)
                .fetch_one(&mut *$conn)
                .await?;
            room = held + missing.len() as i64 <= $quota;
            if room {
                let now = $crate::db::now();
                let mut q =
                    sqlx::QueryBuilder::new("INSERT INTO labels (user_id, name, name_folded, created_at, updated_at) ");
                q.push_values(&missing, |mut row, i| {
                    row.push_bind(owner).push_bind(names[*i].clone()).push_bind(folded[*i].clone());
                    row.push_bind(now).push_bind(now);
                });
                q.push(" RETURNING id, name, name_folded");
                let made: Vec<(i64, String, String)> = q.build_query_as().fetch_all(&mut *$conn).await?;
                found.extend(made);
            }
        }
        if room {
            let mut q = sqlx::QueryBuilder::new("DELETE FROM task_labels WHERE task_id = ");
            q.push_bind(task).push(" AND user_id = ").push_bind(owner);
            if !found.is_empty() {
                q.push(" AND label_id NOT IN (");
                let mut list = q.separated(", ");
                for (id, ..) in &found {
                    list.push_bind(*id);
                }
                q.push(")");
            }
            q.build().execute(&mut *$conn).await?;
            if !found.is_empty() {
                let mut q = sqlx::QueryBuilder::new("INSERT INTO task_labels (user_id, task_id, label_id) ");
                q.push_values(&found, |mut row, (id, ..)| {
                    row.push_bind(owner).push_bind(task).push_bind(*id);
                });
                q.push(" ON CONFLICT DO NOTHING");
                q.build().execute(&mut *$conn).await?;
            }
            found.sort_by(|a, b| a.2.cmp(&b.2));
            let names: Vec<String> = found.into_iter().map(|(_, name, _)| name).collect();
            sqlx::query("UPDATE tasks SET labels = $1 WHERE id = $2 AND user_id = $3")
                .bind(sqlx::types::Json(&names))
                .bind(task)
                .bind(owner)
                .execute(&mut *$conn)
                .await?;
            Some(names)
        } else {
            None
        }
    }};
}
pub(super) use set_labels;

/// All the owner's labels by name, each with its count of tasks: one
/// statement however many there are.
pub async fn all(db: UserDb<'_>) -> DbResult<Vec<Label>> {
    let sql = format!("SELECT {COLUMNS} FROM labels WHERE user_id = $1 ORDER BY name_folded, id");
    let labels = as_user!(db, conn => {
        sqlx::query_as::<_, Label>(&sql).bind(db.owner()).fetch_all(&mut *conn).await?
    });
    Ok(labels)
}

pub async fn get(db: UserDb<'_>, id: i64) -> DbResult<Option<Label>> {
    let sql = format!("SELECT {COLUMNS} FROM labels WHERE id = $1 AND user_id = $2");
    let label = as_user!(db, conn => {
        sqlx::query_as::<_, Label>(&sql).bind(id).bind(db.owner()).fetch_optional(&mut *conn).await?
    });
    Ok(label)
}

/// Creates a label unless the owner already holds `quota`; `None` then. A
/// name the owner already uses (in any case) is [`super::DbError::Conflict`].
pub async fn create(db: UserDb<'_>, name: &str, colour: Option<&str>, quota: i64) -> DbResult<Option<Label>> {
    let now = now();
    let sql = format!(
        "INSERT INTO labels (user_id, name, name_folded, colour, created_at, updated_at)
         SELECT $1, $2, $3, $4, $5, $6
         WHERE (SELECT count(*) FROM labels WHERE user_id = $1) < $7
         RETURNING {COLUMNS}"
    );
    let label = as_user!(db, writing conn => {
        if db.is_postgres() {
            sqlx::query(LABEL_LOCK).bind(db.owner()).execute(&mut *conn).await?;
        }
        sqlx::query_as::<_, Label>(&sql)
            .bind(db.owner())
            .bind(name)
            .bind(fold(name))
            .bind(colour)
            .bind(now)
            .bind(now)
            .bind(quota)
            .fetch_optional(&mut *conn)
            .await?
    });
    Ok(label)
}

/// A change to a label's name or colour; `None` leaves it as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelPatch {
    pub name: Option<String>,
    pub colour: Option<Option<&'static str>>,
}

/// Applies `patch`; `None` when the label is not the owner's. A name the
/// owner already uses is [`super::DbError::Conflict`]. A new name is
/// written on its tasks in the same transaction.
pub async fn update(db: UserDb<'_>, id: i64, patch: &LabelPatch) -> DbResult<Option<Label>> {
    let now = now();
    let label = as_user!(db, atomically conn => {
        if db.is_postgres() {
            sqlx::query(LABEL_LOCK).bind(db.owner()).execute(&mut *conn).await?;
        }
        let mut q = sqlx::QueryBuilder::new("UPDATE labels SET updated_at = ");
        q.push_bind(now);
        if let Some(name) = &patch.name {
            q.push(", name = ").push_bind(name.clone()).push(", name_folded = ").push_bind(fold(name));
        }
        if let Some(colour) = patch.colour {
            q.push(", colour = ").push_bind(colour);
        }
        q.push(" WHERE id = ").push_bind(id).push(" AND user_id = ").push_bind(db.owner());
        q.push(" RETURNING ").push(COLUMNS);
        let label = q.build_query_as::<Label>().fetch_optional(&mut *conn).await?;
        if label.is_some() && patch.name.is_some() {
            sqlx::query(refresh_names(db.is_postgres()))
                .bind(db.owner())
                .bind(id)
                .bind(0_i64)
                .execute(&mut *conn)
                .await?;
        }
        label
    });
    Ok(label)
}

/// Deletes the owner's label; its tasks stay, without it (their names
/// written first, in the same transaction). False when there was none to
/// delete.
pub async fn delete(db: UserDb<'_>, id: i64) -> DbResult<bool> {
    let deleted = as_user!(db, atomically conn => {
        if db.is_postgres() {
            sqlx::query(LABEL_LOCK).bind(db.owner()).execute(&mut *conn).await?;
        }
        sqlx::query(refresh_names(db.is_postgres())).bind(db.owner()).bind(id).bind(id).execute(&mut *conn).await?;
        sqlx::query("DELETE FROM labels WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(db.owner())
            .execute(&mut *conn)
            .await?
            .rows_affected()
    });
    Ok(deleted == 1)
}

/// Merges the owner's label `id` into their label `into` (another one): the
/// tasks that carried `id` carry `into`, and `id` is gone. In one
/// transaction; `None` (nothing changed) unless both are the owner's.
pub async fn merge(db: UserDb<'_>, id: i64, into: i64) -> DbResult<Option<Label>> {
    let merged = as_user!(db, atomically conn => {
        if db.is_postgres() {
            sqlx::query(LABEL_LOCK).bind(db.owner()).execute(&mut *conn).await?;
        }
        let both: i64 = sqlx::query_scalar("SELECT count(*) FROM labels WHERE user_id = $1 AND id IN ($2, $3)")
            .bind(db.owner())
            .bind(id)
            .bind(into)
            .fetch_one(&mut *conn)
            .await?;
        if both == 2 && id != into {
            sqlx::query(
                "INSERT INTO task_labels (user_id, task_id, label_id)
                 SELECT user_id, task_id, $1 FROM task_labels WHERE label_id = $2 AND user_id = $3
                 ON CONFLICT DO NOTHING",
            )
            .bind(into)
            .bind(id)
            .bind(db.owner())
            .execute(&mut *conn)
            .await?;
            sqlx::query("DELETE FROM labels WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(db.owner())
                .execute(&mut *conn)
                .await?;
            sqlx::query("UPDATE labels SET updated_at = $1 WHERE id = $2 AND user_id = $3")
                .bind(now())
                .bind(into)
                .bind(db.owner())
                .execute(&mut *conn)
                .await?;
            sqlx::query(refresh_names(db.is_postgres()))
                .bind(db.owner())
                .bind(into)
                .bind(0_i64)
                .execute(&mut *conn)
                .await?;
        }
        both == 2 && id != into
    });
    if !merged {
        return Ok(None);
    }
    get(db, into).await
}
