//! Security events (the audit trail), throttling counters and password-reset
//! tokens.

use sqlx::FromRow;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::{Db, DbResult, as_user, now, on_pool};
use crate::domain::AuditEvent;

#[derive(Clone, Debug, FromRow)]
pub struct SecurityEvent {
    pub event: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: OffsetDateTime,
}

/// Records `event` for the user; never secrets, only what and from where.
/// Keeps the newest `keep` events of each class (see
/// [`AuditEvent::caused_by_anyone`];
/// older ones go, and the hourly purge drops those over a year old), so a
/// script that signs in all day cannot grow the trail without bound.
pub async fn record(db: &Db, user_id: Uuid, event: &Event<'_>, keep: i64) -> DbResult<()> {
    as_user!(db, user_id, atomically conn => {
        sqlx::query(
            "INSERT INTO security_events (user_id, event, ip, user_agent, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user_id)
        .bind(event.name.name())
        .bind(event.ip)
        .bind(event.user_agent)
        .bind(now())
        .execute(&mut *conn)
        .await?;
        // Trimmed within its class: events anyone can cause by naming the
        // account are kept apart from the owner's own, so a stranger's
        // guesses cannot push the owner's history out. An index walk over
        // `keep` entries: cheap next to the password hash most events follow.
        let anyones: Vec<String> = AuditEvent::ALL
            .iter()
            .filter(|e| e.caused_by_anyone())
            .map(|e| format!("'{}'", e.name()))
            .collect();
        let class = format!("(event IN ({})) = $3", anyones.join(", "));
        sqlx::query(&format!(
            "DELETE FROM security_events WHERE user_id = $1 AND {class} AND id <= (
                 SELECT id FROM security_events WHERE user_id = $1 AND {class} ORDER BY id DESC LIMIT 1 OFFSET $2)"
        ))
        .bind(user_id)
        .bind(keep)
        .bind(event.name.caused_by_anyone())
        .execute(&mut *conn)
        .await?;
    });
    Ok(())
}

/// What a security event says: never secrets, only what and from where.
pub struct Event<'a> {
    pub name: AuditEvent,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
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

/// One bucket an attempt counts against: at most `limit` events after `since`.
pub struct Bucket<'a> {
    pub name: &'a str,
    pub limit: i64,
    pub since: OffsetDateTime,
}

/// Counts one event in every bucket if each of them is under its limit, and
/// nothing otherwise: the ids of the counted events, or `None` when some
/// bucket is full. One statement, so on SQLite (one writer at a time, whose
/// write lock is taken before the statement reads) concurrent attempts
/// cannot all see room; on PostgreSQL, where readers do not wait for
/// writers, the buckets' advisory locks make the same statement wait its
/// turn, across instances too.
pub async fn throttle_take(db: &Db, buckets: &[Bucket<'_>]) -> DbResult<Option<Vec<i64>>> {
    if buckets.is_empty() {
        return Ok(Some(Vec::new()));
    }
    // One row per bucket with whether it has room; the rows are inserted
    // only if all have. Each bucket's parameters (name, now, since, limit)
    // appear in ascending order, as both dialects' numbering needs.
    let rows: Vec<String> = (0..buckets.len())
        .map(|i| {
            let k = i * 4;
            format!(
                "SELECT ${name} AS bucket, ${at} AS at,
                        CASE WHEN (SELECT count(*) FROM throttle_events WHERE bucket = ${name} AND created_at > ${since})
                                  < ${limit} THEN 1 ELSE 0 END AS ok",
                name = k + 1,
                at = k + 2,
                since = k + 3,
                limit = k + 4
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO throttle_events (bucket, created_at)
         SELECT bucket, at FROM (SELECT bucket, at, min(ok) OVER () AS all_ok FROM ({}) AS u) AS w
         WHERE all_ok = 1
         RETURNING id",
        rows.join(" UNION ALL ")
    );
    let now = now();
    macro_rules! bound {
        ($query:expr) => {{
            let mut query = $query;
            for bucket in buckets {
                query = query.bind(bucket.name).bind(now).bind(bucket.since).bind(bucket.limit);
            }
            query
        }};
    }
    let ids: Vec<i64> = match db {
        Db::Sqlite(pool) => bound!(sqlx::query_scalar(&sql)).fetch_all(pool).await?,
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            // In a fixed order, so two attempts locking the same pair cannot deadlock.
            let mut keys: Vec<&str> = buckets.iter().map(|b| b.name).collect();
            keys.sort_unstable();
            keys.dedup();
            for key in keys {
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7031))")
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
            // A statement after the locks: under READ COMMITTED it sees every
            // event committed by whoever held them before.
            let ids = bound!(sqlx::query_scalar(&sql)).fetch_all(&mut *tx).await?;
            tx.commit().await?;
            ids
        }
    };
    Ok((ids.len() == buckets.len()).then_some(ids))
}

/// Takes back counted events (a sign-in that succeeded does not count).
pub async fn throttle_refund(db: &Db, ids: &[i64]) -> DbResult<()> {
    for id in ids {
        on_pool!(db, pool => {
            sqlx::query("DELETE FROM throttle_events WHERE id = $1").bind(id).execute(pool).await?;
        });
    }
    Ok(())
}

/// How many events `bucket` had after `since`, and when the oldest of them was.
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

/// How long security events are kept (also in migration 0007 on PostgreSQL).
pub const EVENT_RETENTION: Duration = Duration::days(365);

/// Housekeeping across all accounts (it reads no one's data): throttle
/// events older than `age`; expired sessions, reset links and sign-up
/// requests; revoked sessions (their spent refresh tokens go with them);
/// deleted tasks whose undo window closed that long ago; security events
/// past [`EVENT_RETENTION`]. On PostgreSQL the user-owned tables are out of
/// the pool role's reach but for the one signed-in user, so their part runs
/// in a function (migrations 0003 and 0007) as the tables' owner.
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
            sqlx::query("DELETE FROM sessions WHERE revoked_at IS NOT NULL").execute(pool).await?;
            sqlx::query("DELETE FROM security_events WHERE created_at < $1")
                .bind(now() - EVENT_RETENTION)
                .execute(pool)
                .await?;
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

/// Whose live reset link this is, if it still works (to show the form, and
/// then to know whose password it sets: `users::replace_password` spends it).
pub async fn reset_owner(db: &Db, token_hash: &str) -> DbResult<Option<Uuid>> {
    let found = on_pool!(db, pool => {
        sqlx::query_scalar(
            "SELECT user_id FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now())
        .fetch_optional(pool)
        .await?
    });
    Ok(found)
}
