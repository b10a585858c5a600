//! Signed-in devices. A session row is what makes a JWT worth anything: the
//! token names its session, and a revoked or expired row refuses it at once.
//! Refresh tokens are kept only as SHA-256 hashes.

use sqlx::FromRow;
use time::Duration;
use uuid::Uuid;

use super::{Db, DbResult, SqlitePools, UserDb, as_user, now};

/// The signed-in user behind a live session.
#[derive(Clone, Debug, FromRow)]
pub struct SessionUser {
    pub user_id: Uuid,
    pub email: String,
    pub name: Option<String>,
}

pub struct NewSession<'a> {
    pub refresh_hash: &'a str,
    pub lifetime: Duration,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
    /// Live sessions the user may have; past it the least recently used
    /// ones end, with their spent refresh tokens.
    pub max_live: i64,
}

pub async fn create(db: UserDb<'_>, new: &NewSession<'_>) -> DbResult<Uuid> {
    let id = Uuid::new_v4();
    let now = now();
    as_user!(db, atomically conn => {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, refresh_hash, created_at, last_seen_at, expires_at, user_agent, ip)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(db.owner())
        .bind(new.refresh_hash)
        .bind(now)
        .bind(now)
        .bind(now + new.lifetime)
        .bind(new.user_agent)
        .bind(new.ip)
        .execute(&mut *conn)
        .await?;
        // Deleted rather than marked revoked: the rows (and, by cascade, the
        // spent tokens) stay bounded however often someone signs in.
        sqlx::query(
            "DELETE FROM sessions WHERE id IN (
                 SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
                 ORDER BY last_seen_at DESC, created_at DESC LIMIT 1000000000 OFFSET $3)",
        )
        .bind(db.owner())
        .bind(now)
        .bind(new.max_live)
        .execute(&mut *conn)
        .await?;
    });
    Ok(id)
}

/// A revoked session's spent refresh tokens prove nothing any more (the
/// session refuses every token), so they go with it.
pub(super) const FORGET_SPENT_OF_REVOKED: &str = "DELETE FROM spent_refresh_tokens WHERE session_id IN (
         SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NOT NULL)";

/// The rows of session `$1` and its user where the session is live: `$2`'s,
/// unrevoked, unexpired at `$3`, and the account active. PostgreSQL's
/// `doable_session_live` (migration 0011) and the task list's statement
/// (`tasks::list_checked`) apply the same rule.
macro_rules! live_session {
    () => {
        "FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3 AND u.is_active"
    };
}

/// Whether a session is live ([`live_session!`]): what `UserDb::for_session`
/// checks on SQLite.
pub(super) const IS_LIVE: &str = concat!("SELECT 1 ", live_session!());

/// The user of session `id` if it is theirs, live, and the account active.
pub async fn live_user(db: UserDb<'_>, id: Uuid) -> DbResult<Option<SessionUser>> {
    let found = as_user!(db, conn => {
        sqlx::query_as::<_, SessionUser>(concat!("SELECT u.id AS user_id, u.email, u.name ", live_session!()))
        .bind(id)
        .bind(db.owner())
        .bind(now())
        .fetch_optional(&mut *conn)
        .await?
    });
    Ok(found)
}

/// What presenting a refresh token led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Refresh {
    /// The token was current: it is now spent and `new_hash` replaces it.
    Rotated { session_id: Uuid, user_id: Uuid },
    /// The token was spent moments ago by a parallel request of the same
    /// client (two tabs renewing at once): honour it, rotate nothing.
    /// `successor` is the sealed refresh token its first use produced
    /// (`auth::tokens::open_successor`); `None` for tokens spent before
    /// successors were kept.
    JustRotated { session_id: Uuid, user_id: Uuid, successor: Option<String> },
    /// A token spent longer ago came back: it was copied, so the session is
    /// now revoked.
    Reused { session_id: Uuid, user_id: Uuid },
    /// Unknown, expired or revoked.
    Invalid,
}

#[derive(FromRow)]
struct Owner {
    id: Uuid,
    user_id: Uuid,
}

#[derive(FromRow)]
struct Spent {
    id: Uuid,
    user_id: Uuid,
    spent_at: time::OffsetDateTime,
    successor: Option<String>,
}

/// A refresh token being renewed: the presented one and the one that would
/// replace it.
pub struct Renewal {
    pub presented_hash: String,
    pub new_hash: String,
    /// The new token sealed with the presented one, kept with the spent token.
    pub sealed_successor: String,
}

/// Spends the presented token and stores the new one in its place,
/// atomically; recognises tokens this session spent before.
pub async fn refresh(db: &Db, renewal: &Renewal, grace: Duration) -> DbResult<Refresh> {
    let Renewal { presented_hash, new_hash, sealed_successor } = renewal;
    let now = now();
    let Some(token_owner) = refresh_token_owner(db, presented_hash).await? else {
        return Ok(Refresh::Invalid);
    };
    let outcome = as_user!(db.for_user(token_owner), atomically tx => {
        let rotated = sqlx::query_as::<_, Owner>(
            "UPDATE sessions SET refresh_hash = $1, last_seen_at = $2
             WHERE refresh_hash = $3 AND revoked_at IS NULL AND expires_at > $4
               AND user_id IN (SELECT id FROM users WHERE is_active)
             RETURNING id, user_id",
        )
        .bind(new_hash)
        .bind(now)
        .bind(presented_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(owner) = rotated {
            sqlx::query(
                "INSERT INTO spent_refresh_tokens (hash, session_id, spent_at, successor) VALUES ($1, $2, $3, $4)",
            )
            .bind(presented_hash)
            .bind(owner.id)
            .bind(now)
            .bind(sealed_successor)
            .execute(&mut *tx)
                .await?;
            Refresh::Rotated { session_id: owner.id, user_id: owner.user_id }
        } else {
            let spent = sqlx::query_as::<_, Spent>(
                "SELECT s.id, s.user_id, t.spent_at, t.successor
                 FROM spent_refresh_tokens t JOIN sessions s ON s.id = t.session_id
                 WHERE t.hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2
                   AND s.user_id IN (SELECT id FROM users WHERE is_active)",
            )
            .bind(presented_hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            match spent {
                None => Refresh::Invalid,
                Some(spent) if spent.spent_at >= now - grace => {
                    Refresh::JustRotated { session_id: spent.id, user_id: spent.user_id, successor: spent.successor }
                }
                Some(spent) => {
                    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND user_id = $3")
                        .bind(now)
                        .bind(spent.id)
                        .bind(spent.user_id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(FORGET_SPENT_OF_REVOKED).bind(spent.user_id).execute(&mut *tx).await?;
                    Refresh::Reused { session_id: spent.id, user_id: spent.user_id }
                }
            }
        }
    });
    Ok(outcome)
}

/// Whose session a refresh token, current or spent, belongs to: the one
/// lookup made before the user is known. On PostgreSQL it runs past
/// row-level security in a function that answers only this (migration 0003).
async fn refresh_token_owner(db: &Db, token_hash: &str) -> DbResult<Option<Uuid>> {
    let owner = match db {
        Db::Sqlite(SqlitePools { reader: pool, .. }) => {
            sqlx::query_scalar(
                "SELECT user_id FROM sessions WHERE refresh_hash = $1
                 UNION ALL
                 SELECT s.user_id FROM spent_refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.hash = $1
                 LIMIT 1",
            )
            .bind(token_hash)
            .fetch_optional(pool)
            .await?
        }
        Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT doable_refresh_token_owner($1)").bind(token_hash).fetch_one(pool).await?
        }
    };
    Ok(owner)
}

/// Revokes one of the user's sessions; false when it was not theirs or not live.
pub async fn revoke(db: UserDb<'_>, id: Uuid) -> DbResult<bool> {
    Ok(revoke_matching(db, REVOKE_ONE, id).await? == 1)
}

/// A signed-in device, as its owner sees it.
#[derive(Clone, Debug, FromRow)]
pub struct SessionInfo {
    pub id: Uuid,
    pub created_at: time::OffsetDateTime,
    pub last_seen_at: time::OffsetDateTime,
    pub expires_at: time::OffsetDateTime,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// The user's live sessions, newest first.
pub async fn list(db: UserDb<'_>) -> DbResult<Vec<SessionInfo>> {
    let sessions = as_user!(db, conn => {
        sqlx::query_as::<_, SessionInfo>(
            "SELECT id, created_at, last_seen_at, expires_at, user_agent, ip FROM sessions
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
             ORDER BY created_at DESC",
        )
        .bind(db.owner())
        .bind(now())
        .fetch_all(&mut *conn)
        .await?
    });
    Ok(sessions)
}

/// Revokes every live session of the user except `keep`; how many.
pub async fn revoke_all(db: UserDb<'_>, keep: Option<Uuid>) -> DbResult<u64> {
    // A nil id matches no session: "keep none".
    revoke_matching(db, REVOKE_ALL_BUT, keep.unwrap_or(Uuid::nil())).await
}

/// Revokes the user's (`$2`) live sessions but `$3`, as of `$1`.
pub(super) const REVOKE_ALL_BUT: &str =
    "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND id <> $3 AND revoked_at IS NULL";

/// Revokes the user's (`$2`) live session `$3`, as of `$1`.
const REVOKE_ONE: &str = "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND id = $3 AND revoked_at IS NULL";

/// Runs a revocation (`$1` now, `$2` the user, `$3` the session id it
/// names) and forgets the spent refresh tokens of what it revoked; how many.
async fn revoke_matching(db: UserDb<'_>, revocation: &str, id: Uuid) -> DbResult<u64> {
    let affected = as_user!(db, atomically conn => {
        let affected =
            sqlx::query(revocation).bind(now()).bind(db.owner()).bind(id).execute(&mut *conn).await?.rows_affected();
        sqlx::query(FORGET_SPENT_OF_REVOKED).bind(db.owner()).execute(&mut *conn).await?;
        affected
    });
    Ok(affected)
}
