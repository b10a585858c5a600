//! The hourly purge of every account's expired and spent rows.

use time::Duration;

use super::{Db, DbResult, SqlitePools, audit::EVENT_RETENTION, now, on_pool};

/// Rows deleted per statement: small enough that no purge statement holds
/// the SQLite writer, or PostgreSQL's locks, for long.
pub const PURGE_BATCH: i64 = 1000;

/// Housekeeping across all accounts (it reads no one's data): throttle
/// events older than `age`; expired sessions, reset links and sign-up
/// requests; revoked sessions (their spent refresh tokens go with them);
/// deleted tasks whose undo window closed that long ago; security events
/// past [`EVENT_RETENTION`]. In batches of [`PURGE_BATCH`] rows, repeated
/// until nothing is left, so a backlog of a million rows never becomes one
/// statement that every request waits behind; each filter has its index
/// (migrations 0008 on SQLite, 0010 on PostgreSQL), so a batch never scans
/// a table. On PostgreSQL the user-owned
/// tables are out of the pool role's reach but for the one signed-in user,
/// so their part runs in a function (migration 0009) as the tables' owner.
pub async fn purge(db: &Db, age: Duration) -> DbResult<()> {
    purge_in_batches(db, age, PURGE_BATCH).await
}

/// [`purge`] with batches of `batch` rows.
pub async fn purge_in_batches(db: &Db, age: Duration, batch: i64) -> DbResult<()> {
    let cutoff = now() - age;
    let year_ago = now() - EVENT_RETENTION;
    let everyones = [
        "DELETE FROM throttle_events WHERE id IN (SELECT id FROM throttle_events WHERE created_at < $1 LIMIT $2)",
        "DELETE FROM password_resets WHERE token_hash IN (
             SELECT token_hash FROM password_resets WHERE expires_at < $1 LIMIT $2)",
        "DELETE FROM signup_requests WHERE token_hash IN (
             SELECT token_hash FROM signup_requests WHERE expires_at < $1 LIMIT $2)",
    ];
    for statement in everyones {
        while on_pool!(db, pool => sqlx::query(statement).bind(cutoff).bind(batch).execute(pool).await?.rows_affected())
            > 0
        {
            tokio::task::yield_now().await;
        }
    }
    match db {
        Db::Sqlite(SqlitePools { writer: pool, .. }) => {
            // Each with the time its rows must be older than, if any; the batch size binds last.
            let owned = [
                (
                    "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at < $1 LIMIT $2)",
                    Some(cutoff),
                ),
                (
                    "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE revoked_at IS NOT NULL LIMIT $1)",
                    None,
                ),
                (
                    "DELETE FROM tasks WHERE id IN (
                      SELECT id FROM tasks WHERE deleted_at IS NOT NULL AND deleted_at < $1 LIMIT $2)",
                    Some(cutoff),
                ),
                (
                    "DELETE FROM security_events WHERE id IN (
                      SELECT id FROM security_events WHERE created_at < $1 LIMIT $2)",
                    Some(year_ago),
                ),
            ];
            for (statement, before) in owned {
                loop {
                    let query = sqlx::query(statement);
                    let query = match before {
                        Some(before) => query.bind(before),
                        None => query,
                    };
                    if query.bind(batch).execute(pool).await?.rows_affected() == 0 {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
            }
        }
        Db::Postgres(pool) => {
            while sqlx::query_scalar::<_, i64>("SELECT doable_purge_batch($1, $2)")
                .bind(cutoff)
                .bind(batch as i32)
                .fetch_one(pool)
                .await?
                > 0
            {
                tokio::task::yield_now().await;
            }
        }
    }
    Ok(())
}
