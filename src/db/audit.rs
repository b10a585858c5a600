//! The audit trail: security events per account ("Recent activity").

use sqlx::FromRow;
use time::{Duration, OffsetDateTime};

use super::{DbResult, UserDb, as_user, now};
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
pub async fn record(db: UserDb<'_>, event: &Event<'_>, keep: i64) -> DbResult<()> {
    as_user!(db, atomically conn => {
        sqlx::query(
            "INSERT INTO security_events (user_id, event, ip, user_agent, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(db.owner())
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
        .bind(db.owner())
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
pub async fn recent(db: UserDb<'_>, limit: i64) -> DbResult<Vec<SecurityEvent>> {
    let events = as_user!(db, conn => {
        sqlx::query_as::<_, SecurityEvent>(
            "SELECT event, ip, user_agent, created_at FROM security_events
             WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(db.owner())
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?
    });
    Ok(events)
}

/// How long security events are kept (also in migration 0007 on PostgreSQL).
pub const EVENT_RETENTION: Duration = Duration::days(365);
