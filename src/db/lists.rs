//! Lists. Every user has one Inbox (made with the account by a trigger,
//! migration 0012 on PostgreSQL, 0009 on SQLite) and any number of lists of
//! their own; every task is in exactly one. Like `tasks`, every statement
//! is scoped by `user_id` and runs in [`as_user!`]: another user's list id
//! behaves exactly like one that does not exist.

use sqlx::FromRow;
use time::OffsetDateTime;

use super::{DbResult, UserDb, as_user, fold, now};

/// The order lists are shown in: the Inbox, the active lists by name, the
/// archived ones by name. (A macro, so the JSON statements below can say it
/// in their literal too.)
macro_rules! order {
    () => {
        "is_inbox DESC, archived, name_folded, id"
    };
}
pub(super) const ORDER: &str = order!();

#[derive(Clone, Debug, FromRow, PartialEq, Eq)]
pub struct List {
    pub id: i64,
    pub name: String,
    pub colour: Option<String>,
    pub archived: bool,
    pub is_inbox: bool,
    /// Live tasks not done, kept exact by triggers.
    pub open_count: i64,
    /// Live tasks done.
    pub done_count: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A list as the navigation shows it, read with the task page in the same
/// statement (`tasks::list_checked`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct ListSummary {
    pub id: i64,
    pub name: String,
    pub colour: Option<String>,
    pub archived: bool,
    pub is_inbox: bool,
    pub open_count: i64,
    pub done_count: i64,
}

/// The owner's (`$1`) lists as a JSON array of [`ListSummary`], in [`ORDER`].
pub(super) fn summaries_json(postgres: bool) -> &'static str {
    if postgres {
        concat!(
            "(SELECT coalesce(json_agg(json_build_object('id', id, 'name', name, 'colour', colour, 'archived', archived,
                 'is_inbox', is_inbox, 'open_count', open_count, 'done_count', done_count) ORDER BY ",
            order!(),
            "), '[]')::text FROM lists WHERE user_id = "
        )
    } else {
        concat!(
            "(SELECT json_group_array(json_object('id', id, 'name', name, 'colour', colour,
                 'archived', json(CASE WHEN archived THEN 'true' ELSE 'false' END),
                 'is_inbox', json(CASE WHEN is_inbox THEN 'true' ELSE 'false' END),
                 'open_count', open_count, 'done_count', done_count) ORDER BY ",
            order!(),
            ") FROM lists WHERE user_id = "
        )
    }
}

pub(super) const COLUMNS: &str = "id, name, colour, archived, is_inbox, open_count, done_count, created_at, updated_at";

/// A change to some of a list's fields; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPatch {
    pub name: Option<String>,
    pub colour: Option<Option<&'static str>>,
    pub archived: Option<bool>,
}

/// What became of a change or deletion.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome<T> {
    Done(T),
    /// No such list of the owner's.
    NotFound,
    /// The Inbox cannot be archived or deleted.
    IsInbox,
}

/// What happens to the tasks of a deleted list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TheirTasks {
    /// They go to the Inbox (with their subtasks and order).
    #[default]
    MoveToInbox,
    /// They are deleted with it.
    Delete,
}

/// All the owner's lists, Inbox first, with their open-task counts: one
/// statement however many there are.
pub async fn all(db: UserDb<'_>) -> DbResult<Vec<List>> {
    let sql = format!("SELECT {COLUMNS} FROM lists WHERE user_id = $1 ORDER BY {ORDER}");
    let lists = as_user!(db, conn => {
        sqlx::query_as::<_, List>(&sql).bind(db.owner()).fetch_all(&mut *conn).await?
    });
    Ok(lists)
}

pub async fn get(db: UserDb<'_>, id: i64) -> DbResult<Option<List>> {
    let sql = format!("SELECT {COLUMNS} FROM lists WHERE id = $1 AND user_id = $2");
    let list = as_user!(db, conn => {
        sqlx::query_as::<_, List>(&sql).bind(id).bind(db.owner()).fetch_optional(&mut *conn).await?
    });
    Ok(list)
}

/// Creates a list unless the owner already holds `quota`; `None` then. A
/// name the owner already uses (in any case) is [`super::DbError::Conflict`].
pub async fn create(db: UserDb<'_>, name: &str, colour: Option<&str>, quota: i64) -> DbResult<Option<List>> {
    let now = now();
    let sql = format!(
        "INSERT INTO lists (user_id, name, name_folded, colour, created_at, updated_at)
         SELECT $1, $2, $3, $4, $5, $6
         WHERE (SELECT count(*) FROM lists WHERE user_id = $1) < $7
         RETURNING {COLUMNS}"
    );
    let list = as_user!(db, writing conn => {
        if db.is_postgres() {
            sqlx::query(LIST_QUOTA_LOCK).bind(db.owner()).execute(&mut *conn).await?;
        }
        sqlx::query_as::<_, List>(&sql)
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
    Ok(list)
}

/// PostgreSQL: what an owner's list creates queue on, so two cannot both
/// see room under the quota (as `tasks::QUOTA_LOCK` for tasks).
const LIST_QUOTA_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7033))";

/// Applies `patch` in one statement. A name the owner already uses is
/// [`super::DbError::Conflict`].
pub async fn update(db: UserDb<'_>, id: i64, patch: &ListPatch) -> DbResult<Outcome<List>> {
    let now = now();
    let list = as_user!(db, writing conn => {
        let mut q = sqlx::QueryBuilder::new("UPDATE lists SET updated_at = ");
        q.push_bind(now);
        if let Some(name) = &patch.name {
            q.push(", name = ").push_bind(name.clone()).push(", name_folded = ").push_bind(fold(name));
        }
        if let Some(colour) = patch.colour {
            q.push(", colour = ").push_bind(colour);
        }
        if let Some(archived) = patch.archived {
            q.push(", archived = ").push_bind(archived);
        }
        q.push(" WHERE id = ").push_bind(id).push(" AND user_id = ").push_bind(db.owner());
        if patch.archived == Some(true) {
            q.push(" AND NOT is_inbox");
        }
        q.push(" RETURNING ").push(COLUMNS);
        q.build_query_as::<List>().fetch_optional(&mut *conn).await?
    });
    match list {
        Some(list) => Ok(Outcome::Done(list)),
        None => Ok(match get(db, id).await? {
            Some(list) if list.is_inbox => Outcome::IsInbox,
            _ => Outcome::NotFound,
        }),
    }
}

/// Deletes the owner's list (never the Inbox), its tasks moved to the Inbox
/// or deleted with it, all in one transaction.
pub async fn delete(db: UserDb<'_>, id: i64, their_tasks: TheirTasks) -> DbResult<Outcome<()>> {
    let deleted = as_user!(db, atomically conn => {
        if db.is_postgres() {
            // The tree lock first, as every write that moves many tasks
            // takes it (db::tasks): a parent and its subtasks are moved in
            // the same order as a reshape would move them.
            sqlx::query(super::tasks::TREE_LOCK).bind(db.owner()).execute(&mut *conn).await?;
            // Then: a task being added to the list (or moved into
            // it) now holds a key-share lock on the row; this waits for it
            // and sees it moved below, and any that come later fail their
            // foreign key cleanly (not found) instead of slipping in to be
            // deleted with the list or deadlocking on the counts. SQLite
            // runs one writer at a time.
            sqlx::query("SELECT 1 FROM lists WHERE id = $1 AND user_id = $2 FOR UPDATE")
                .bind(id)
                .bind(db.owner())
                .execute(&mut *conn)
                .await?;
        }
        if their_tasks == TheirTasks::MoveToInbox {
            // Deleted tasks awaiting their purge go too: an undo brings them
            // back to the Inbox.
            sqlx::query(
                "UPDATE tasks SET list_id = (SELECT id FROM lists WHERE user_id = $1 AND is_inbox)
                 WHERE user_id = $1 AND list_id = $2
                   AND EXISTS (SELECT 1 FROM lists WHERE id = $2 AND user_id = $1 AND NOT is_inbox)",
            )
            .bind(db.owner())
            .bind(id)
            .execute(&mut *conn)
            .await?;
        }
        // Its remaining tasks go with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM lists WHERE id = $1 AND user_id = $2 AND NOT is_inbox")
            .bind(id)
            .bind(db.owner())
            .execute(&mut *conn)
            .await?
            .rows_affected()
    });
    if deleted == 1 {
        return Ok(Outcome::Done(()));
    }
    Ok(match get(db, id).await? {
        Some(list) if list.is_inbox => Outcome::IsInbox,
        _ => Outcome::NotFound,
    })
}
