//! The hourly purge of every account's expired and spent rows.

use time::Duration;

use super::{Db, DbResult, SqlitePools, audit::EVENT_RETENTION, now, on_pool};

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
        Db::Sqlite(SqlitePools { writer: pool, .. }) => {
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
