//! Sign-ups waiting for confirmation (`SIGNUP_CONFIRMATION=email`): the
//! checked input with the password already hashed, found by the hash of the
//! token in the confirmation mail. Nothing here belongs to a user yet, and
//! an address is taken only when its link is used.

use sqlx::FromRow;
use time::Duration;

use super::{Db, DbResult, now, on_pool};
use crate::domain::Email;

#[derive(Clone, Debug, FromRow)]
pub struct SignupRequest {
    pub email: String,
    pub name: Option<String>,
    pub password_hash: String,
}

pub async fn create(
    db: &Db,
    token_hash: &str,
    email: &Email,
    name: Option<&str>,
    password_hash: &str,
    lifetime: Duration,
) -> DbResult<()> {
    let now = now();
    on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO signup_requests (token_hash, email, name, password_hash, created_at, expires_at, requested_ns)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(token_hash)
        .bind(email.as_str())
        .bind(name)
        .bind(password_hash)
        .bind(now)
        .bind(now + lifetime)
        .bind(nanos_now())
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// The request behind a token, while its link works.
pub async fn find(db: &Db, token_hash: &str) -> DbResult<Option<SignupRequest>> {
    let found = on_pool!(db, reading pool => {
        sqlx::query_as::<_, SignupRequest>(
            "SELECT email, name, password_hash FROM signup_requests WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now())
        .fetch_optional(pool)
        .await?
    });
    Ok(found)
}

/// Spends every pending link for an address, once its account exists.
pub async fn remove_for(db: &Db, email: &Email) -> DbResult<()> {
    on_pool!(db, pool => {
        sqlx::query("DELETE FROM signup_requests WHERE email = $1").bind(email.as_str()).execute(pool).await?;
    });
    Ok(())
}

/// Whether `token_hash` is the newest pending request for the address (the
/// one its next mail is for).
pub async fn is_newest_for(db: &Db, email: &Email, token_hash: &str) -> DbResult<bool> {
    let newest: Option<String> = on_pool!(db, reading pool => {
        sqlx::query_scalar(
            "SELECT token_hash FROM signup_requests WHERE email = $1 AND expires_at > $2
             ORDER BY requested_ns DESC, token_hash DESC LIMIT 1",
        )
        .bind(email.as_str())
        .bind(now())
        .fetch_optional(pool)
        .await?
    });
    Ok(newest.as_deref() == Some(token_hash))
}

/// Spends one pending link.
pub async fn remove(db: &Db, token_hash: &str) -> DbResult<()> {
    on_pool!(db, pool => {
        sqlx::query("DELETE FROM signup_requests WHERE token_hash = $1").bind(token_hash).execute(pool).await?;
    });
    Ok(())
}

/// Now, in nanoseconds since 1970 (fits an i64 until 2262).
fn nanos_now() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos()).unwrap_or(i64::MAX)
}
