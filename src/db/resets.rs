//! Password-reset links, found by the hash of their token.

use time::Duration;
use uuid::Uuid;

use super::{Db, DbResult, now, on_pool};

pub async fn create(db: &Db, user_id: Uuid, token_hash: &str, lifetime: Duration) -> DbResult<()> {
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
/// then to know whose password it sets: [`super::users::replace_password`] spends it).
pub async fn owner(db: &Db, token_hash: &str) -> DbResult<Option<Uuid>> {
    let found = on_pool!(db, reading pool => {
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
