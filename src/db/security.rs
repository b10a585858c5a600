//! Security events (the audit trail), throttling counters and password-reset
//! tokens.

use sqlx::FromRow;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::{Db, DbResult, as_user, now, on_pool};

#[derive(Clone, Debug, FromRow)]
pub struct SecurityEvent {
    pub event: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: OffsetDateTime,
}

/// Records `event` for the user; never secrets, only what and from where.
pub async fn record(db: &Db, user_id: Uuid, event: &str, ip: Option<&str>, user_agent: Option<&str>) -> DbResult<()> {
    as_user!(db, user_id, conn => {
        sqlx::query(
            "INSERT INTO security_events (user_id, event, ip, user_agent, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user_id)
        .bind(event)
        .bind(ip)
        .bind(user_agent)
        .bind(now())
        .execute(&mut *conn)
        .await?;
    });
    Ok(())
}

/// The user's most recent events, newest first.
pub async fn recent(db: &Db, user_id: Uuid, limit: i64) -> DbResult<Vec<SecurityEvent>> {
    let events = as_user!(db, user_id, conn => {
        sqlx::query_as::<_, SecurityEvent>(
            "SELECT event, ip, user_agent, created_at FROM security_events
             WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?
    });
    Ok(events)
}

/// How many events `bucket` had since `since`, and when the oldest of them was.
pub async fn throttle_count(db: &Db, bucket: &str, since: OffsetDateTime) -> DbResult<(i64, Option<OffsetDateTime>)> {
    let row: (i64, Option<OffsetDateTime>) = on_pool!(db, pool => {
        sqlx::query_as("SELECT count(*), min(created_at) FROM throttle_events WHERE bucket = $1 AND created_at > $2")
            .bind(bucket)
            .bind(since)
            .fetch_one(pool)
            .await?
    });
    Ok(row)
}

pub async fn throttle_add(db: &Db, bucket: &str) -> DbResult<()> {
    on_pool!(db, pool => {
        sqlx::query("INSERT INTO throttle_events (bucket, created_at) VALUES ($1, $2)")
            .bind(bucket)
            .bind(now())
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// Forgets throttle events older than `age`, expired sessions, reset links
/// and sign-up requests, and deleted tasks whose undo window closed that long ago
/// (housekeeping across all accounts; it reads no one's data). On
/// PostgreSQL sessions and tasks are out of the pool role's reach but for
/// the one signed-in user, so their part runs in a function of migration
/// 0003 as the tables' owner.
pub async fn purge(db: &Db, age: Duration) -> DbResult<()> {
    let cutoff = now() - age;
    on_pool!(db, pool => {
        sqlx::query("DELETE FROM throttle_events WHERE created_at < $1").bind(cutoff).execute(pool).await?;
        sqlx::query("DELETE FROM password_resets WHERE expires_at < $1").bind(cutoff).execute(pool).await?;
        sqlx::query("DELETE FROM signup_requests WHERE expires_at < $1").bind(cutoff).execute(pool).await?;
    });
    match db {
        Db::Sqlite(pool) => {
            sqlx::query("DELETE FROM sessions WHERE expires_at < $1").bind(cutoff).execute(pool).await?;
            sqlx::query("DELETE FROM tasks WHERE deleted_at IS NOT NULL AND deleted_at < $1")
                .bind(cutoff)
                .execute(pool)
                .await?;
        }
        Db::Postgres(pool) => {
            sqlx::query("SELECT doable_purge($1)").bind(cutoff).execute(pool).await?;
        }
    }
    Ok(())
}

pub async fn create_reset(db: &Db, user_id: Uuid, token_hash: &str, lifetime: Duration) -> DbResult<()> {
    let now = now();
    on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(now)
        .bind(now + lifetime)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// Spends a reset token: the user it was for, if it was live and unused.
/// One statement, so a link clicked twice at once works only once.
pub async fn use_reset(db: &Db, token_hash: &str) -> DbResult<Option<Uuid>> {
    let now = now();
    let user: Option<(Uuid,)> = on_pool!(db, pool => {
        sqlx::query_as(
            "UPDATE password_resets SET used_at = $1
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $3
             RETURNING user_id",
        )
        .bind(now)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(pool)
        .await?
    });
    Ok(user.map(|(id,)| id))
}

/// Whether a reset token could still be used (to show the form or not).
pub async fn reset_is_live(db: &Db, token_hash: &str) -> DbResult<bool> {
    let found: Option<(Uuid,)> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT user_id FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now())
        .fetch_optional(pool)
        .await?
    });
    Ok(found.is_some())
}
