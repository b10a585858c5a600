//! Accounts.

use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Db, DbResult, UserDb, as_user, now, on_pool};
use crate::domain::Email;

#[derive(Clone, Debug, FromRow)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub created_at: OffsetDateTime,
}

/// What sign-in needs: the stored hash and whether the account may sign in.
#[derive(Debug, FromRow)]
pub struct Credentials {
    pub id: Uuid,
    pub password_hash: String,
    pub is_active: bool,
}

/// Creates an account; a taken email is `DbError::Conflict`.
pub async fn create(db: &Db, email: &Email, name: Option<&str>, password_hash: &str) -> DbResult<User> {
    let now = now();
    let user =
        User { id: Uuid::now_v7(), email: email.as_str().to_owned(), name: name.map(str::to_owned), created_at: now };
    on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO users (id, email, name, password_hash, is_active, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(user.id)
        .bind(&user.email)
        .bind(&user.name)
        .bind(password_hash)
        .bind(true)
        .bind(now)
        .bind(now)
        .execute(pool)
        .await?;
    });
    Ok(user)
}

pub async fn credentials_by_email(db: &Db, email: &Email) -> DbResult<Option<Credentials>> {
    let found = on_pool!(db, reading pool => {
        sqlx::query_as::<_, Credentials>("SELECT id, password_hash, is_active FROM users WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(pool)
            .await?
    });
    Ok(found)
}

/// The signed-in user's own profile.
pub async fn find(db: UserDb<'_>) -> DbResult<Option<User>> {
    let found = as_user!(db, conn => {
        sqlx::query_as::<_, User>("SELECT id, email, name, created_at FROM users WHERE id = $1")
            .bind(db.owner())
            .fetch_optional(&mut *conn)
            .await?
    });
    Ok(found)
}

pub async fn set_name(db: UserDb<'_>, name: Option<&str>) -> DbResult<()> {
    as_user!(db, writing conn => {
        sqlx::query("UPDATE users SET name = $1, updated_at = $2 WHERE id = $3")
            .bind(name)
            .bind(now())
            .bind(db.owner())
            .execute(&mut *conn)
            .await?;
    });
    Ok(())
}

/// Sets a new password hash, in one transaction with what must land with
/// it: the reset link it came through is spent (if it already was, or has
/// expired, nothing changes and the answer is `false`), every other reset
/// link of the user is spent (one mailed earlier must not undo this), and
/// every session but `keep` is revoked, with its spent refresh tokens.
pub async fn replace_password(
    db: UserDb<'_>,
    password_hash: &str,
    via_reset: Option<&str>,
    keep: Option<Uuid>,
) -> DbResult<bool> {
    let now = now();
    let replaced = as_user!(db, atomically conn => {
        let link_spent = match via_reset {
            None => true,
            Some(token_hash) => {
                sqlx::query(
                    "UPDATE password_resets SET used_at = $1
                     WHERE token_hash = $2 AND user_id = $3 AND used_at IS NULL AND expires_at > $1",
                )
                .bind(now)
                .bind(token_hash)
                .bind(db.owner())
                .execute(&mut *conn)
                .await?
                .rows_affected()
                    == 1
            }
        };
        if link_spent {
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(password_hash)
                .bind(now)
                .bind(db.owner())
                .execute(&mut *conn)
                .await?;
            sqlx::query("UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
                .bind(now)
                .bind(db.owner())
                .execute(&mut *conn)
                .await?;
            sqlx::query(super::sessions::REVOKE_ALL_BUT)
                .bind(now)
                .bind(db.owner())
                .bind(keep.unwrap_or(Uuid::nil()))
                .execute(&mut *conn)
                .await?;
            sqlx::query(super::sessions::FORGET_SPENT_OF_REVOKED).bind(db.owner()).execute(&mut *conn).await?;
        }
        link_spent
    });
    Ok(replaced)
}

/// Activates or deactivates an account by email (the `doable user` command);
/// false when there is no such account.
pub async fn set_active(db: &Db, email: &Email, active: bool) -> DbResult<bool> {
    let affected = on_pool!(db, pool => {
        sqlx::query("UPDATE users SET is_active = $1, updated_at = $2 WHERE email = $3")
            .bind(active)
            .bind(now())
            .bind(email.as_str())
            .execute(pool)
            .await?
            .rows_affected()
    });
    Ok(affected == 1)
}

/// Deletes the account; its tasks, sessions, events and reset links go with
/// it (ON DELETE CASCADE).
pub async fn delete(db: UserDb<'_>) -> DbResult<()> {
    as_user!(db, writing conn => {
        sqlx::query("DELETE FROM users WHERE id = $1").bind(db.owner()).execute(&mut *conn).await?;
    });
    Ok(())
}
