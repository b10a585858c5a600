//! Sessions: a short-lived access JWT plus an opaque refresh token, both
//! checked against the session's row on every request, so sign-out and
//! revocation take effect at once.
//!
//! For pages, one middleware ([`resolve_session`]) reads the session cookies
//! of every request before any handler runs: it verifies the access JWT, or
//! renews an expired access token from the refresh cookie, and leaves a
//! [`Claim`] whose session the first statement that needs the user checks.
//! The API presents the access token as a bearer token instead
//! ([`bearer_claim`]) and renews through [`renew`], the same rules as the
//! cookie.

use axum::{
    extract::{Request, State},
    http::request::Parts,
    middleware::Next,
    response::Response,
};
use tower_cookies::Cookies;
use uuid::Uuid;

use super::{
    ClientInfo, CurrentUser,
    cookies::{ACCESS_COOKIE, REFRESH_COOKIE, clear_session_cookies, set_session_cookies},
    tokens::{self, hash_refresh_token, random_token, seal_successor},
};
use crate::{
    app::AppState,
    db::sessions::{self, NewSession, Refresh},
    error::AppError,
};

/// How long a just-spent refresh token is still honoured, for two tabs (or
/// two requests of one page) renewing at the same moment.
pub const REFRESH_GRACE: time::Duration = time::Duration::seconds(10);

/// A refresh token renewed: whose session, and what the client holds now.
pub struct Renewed {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub refresh: Successor,
}

/// The refresh token that follows a renewal.
pub enum Successor {
    /// Minted now: the presented token was current.
    New(String),
    /// Minted by a parallel renewal seconds ago (the grace window): the very
    /// same token, never a second chain. `None` if it cannot be opened
    /// (spent before successors were kept).
    Earlier(Option<String>),
}

impl Successor {
    /// The token to hand the client, if there is one.
    pub fn token(self) -> Option<String> {
        match self {
            Successor::New(token) | Successor::Earlier(Some(token)) => Some(token),
            Successor::Earlier(None) => None,
        }
    }
}

/// Renews a refresh token, for pages and API alike: spends it for a new one,
/// honours one spent inside the grace window with that same successor, and
/// revokes the session when one spent earlier comes back (it was copied).
/// `None` for a token that gets nothing (unknown, expired, revoked, reused).
pub async fn renew(state: &AppState, presented: &str, via: &'static str) -> Result<Option<Renewed>, AppError> {
    let new_refresh = random_token();
    let outcome = sessions::refresh(&state.db, &renewal(presented, &new_refresh), REFRESH_GRACE).await?;
    Ok(match outcome {
        Refresh::Rotated { session_id, user_id } => {
            Some(Renewed { session_id, user_id, refresh: Successor::New(new_refresh) })
        }
        Refresh::JustRotated { session_id, user_id, successor } => {
            let earlier = successor.and_then(|sealed| tokens::open_successor(presented, &sealed));
            Some(Renewed { session_id, user_id, refresh: Successor::Earlier(earlier) })
        }
        Refresh::Reused { session_id, user_id } => {
            tracing::warn!(event = "session.refresh_reuse", via, %user_id, %session_id, "spent refresh token presented again; session revoked");
            None
        }
        Refresh::Invalid => None,
    })
}

/// What renewing `presented` with `successor` stores: both hashed, and the
/// successor sealed for a parallel renewal inside the grace window.
fn renewal(presented: &str, successor: &str) -> sessions::Renewal {
    sessions::Renewal {
        presented_hash: hash_refresh_token(presented),
        new_hash: hash_refresh_token(successor),
        sealed_successor: seal_successor(presented, successor),
    }
}

/// A genuine, unexpired access token's word for who is asking: its user and
/// session, not yet checked against the session's row. Nothing may be shown
/// or done on a claim alone: [`check`] turns it into a [`CurrentUser`] or
/// nothing, or a read checks it in its own statement
/// (`db::tasks::list_checked`), saving the request a round trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    pub user_id: Uuid,
    pub session_id: Uuid,
}

impl Claim {
    /// The claimed user's rows, reached only while the claimed session is
    /// live: each transaction on them checks it first
    /// (`db::UserDb::for_session`), so a request needs none of its own for it.
    pub fn rows(self, db: &crate::db::Db) -> crate::db::UserDb<'_> {
        db.for_session(self.user_id, self.session_id)
    }
}

/// What [`resolve_session`] found, stored in the request's extensions.
#[derive(Clone, Debug)]
pub(crate) enum Resolved {
    Nobody,
    /// Checked by whoever first needs the user ([`resolved_user`]).
    Claimed(Claim),
    /// Checked (during a renewal, or by an earlier extractor).
    User(CurrentUser),
}

impl Resolved {
    /// The session the request claims, checked or not: what CSRF tokens are
    /// bound to. A claim whose session turns out dead gets no page with a
    /// form on it bound to that (see `web::extract::PageRequest`).
    pub(crate) fn session_id(&self) -> Option<Uuid> {
        match self {
            Resolved::Nobody => None,
            Resolved::Claimed(claim) => Some(claim.session_id),
            Resolved::User(user) => Some(user.session_id),
        }
    }
}

/// Verifies the access cookie, or renews it from the refresh cookie, for
/// every page request. A verified access token's session row is not read
/// here: the first extractor or query that needs the user checks it, so the
/// task list can do that in the statement that reads the list.
pub async fn resolve_session(
    State(state): State<AppState>,
    cookies: Cookies,
    mut request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let resolved = authenticate(&state, &cookies).await?;
    request.extensions_mut().insert(resolved);
    Ok(next.run(request).await)
}

async fn authenticate(state: &AppState, cookies: &Cookies) -> Result<Resolved, AppError> {
    if let Some(claims) = cookies.get(ACCESS_COOKIE).and_then(|c| state.keys.verify_access(c.value())) {
        return Ok(Resolved::Claimed(Claim { user_id: claims.sub, session_id: claims.sid }));
    }

    let Some(presented) = cookies.get(REFRESH_COOKIE) else {
        return Ok(Resolved::Nobody);
    };
    let Some(Renewed { session_id, user_id, refresh }) = renew(state, presented.value(), "pages").await? else {
        clear_session_cookies(cookies, &state.config);
        return Ok(Resolved::Nobody);
    };
    // Inside the grace window the browser already holds the successor (the
    // parallel request set it): it gets a new access token only.
    let new_cookie = match refresh {
        Successor::New(token) => Some(token),
        Successor::Earlier(_) => None,
    };
    let Some(user) = check(state, Claim { user_id, session_id }).await? else {
        clear_session_cookies(cookies, &state.config);
        return Ok(Resolved::Nobody);
    };
    let access = state.keys.issue_access(user_id, session_id, state.config.access_token_ttl)?;
    set_session_cookies(cookies, &state.config, access, new_cookie);
    Ok(Resolved::User(user))
}

/// The user behind a claim, if its session is live and the account active.
pub async fn check(state: &AppState, claim: Claim) -> Result<Option<CurrentUser>, AppError> {
    let live = sessions::live_user(state.db.for_user(claim.user_id), claim.session_id).await?;
    Ok(live.map(|user| CurrentUser::of(claim, user)))
}

/// What a bearer token claims, if it is a genuine, unexpired access token.
pub fn bearer_claim(state: &AppState, token: &str) -> Option<Claim> {
    state.keys.verify_access(token).map(|claims| Claim { user_id: claims.sub, session_id: claims.sid })
}

/// The tokens of a new session: for cookies (pages) or a JSON body (API).
pub struct IssuedTokens {
    pub session_id: Uuid,
    pub access: String,
    pub refresh: String,
}

/// Creates a session for a user who just proved who they are.
pub async fn create_session(state: &AppState, user_id: Uuid, client: &ClientInfo) -> Result<IssuedTokens, AppError> {
    let refresh = random_token();
    let session_id = sessions::create(
        state.db.for_user(user_id),
        &NewSession {
            refresh_hash: &hash_refresh_token(&refresh),
            lifetime: time::Duration::seconds(state.config.refresh_token_ttl.as_secs() as i64),
            user_agent: client.user_agent.as_deref(),
            ip: client.ip.as_deref(),
            max_live: state.config.quotas.sessions_per_user,
        },
    )
    .await?;
    let access = state.keys.issue_access(user_id, session_id, state.config.access_token_ttl)?;
    Ok(IssuedTokens { session_id, access, refresh })
}

/// Creates a session and sets its cookies, revoking the session this browser
/// had before (signing in again must not leave an orphan behind).
pub async fn start_session(
    state: &AppState,
    cookies: &Cookies,
    user_id: Uuid,
    client: &ClientInfo,
    previous: Option<&CurrentUser>,
) -> Result<Uuid, AppError> {
    if let Some(previous) = previous {
        sessions::revoke(state.db.for_user(previous.id), previous.session_id).await?;
    }
    let tokens = create_session(state, user_id, client).await?;
    set_session_cookies(cookies, &state.config, tokens.access, Some(tokens.refresh));
    Ok(tokens.session_id)
}

/// The user [`resolve_session`] found for this request, its session checked
/// now if nobody has yet (a dead one's cookies are cleared). Fails closed: a
/// route outside the middleware has no user at all.
pub async fn resolved_user(
    parts: &mut Parts,
    state: &AppState,
    cookies: &Cookies,
) -> Result<Option<CurrentUser>, AppError> {
    let user = match resolved(parts)? {
        Resolved::Nobody => None,
        Resolved::User(user) => Some(user),
        Resolved::Claimed(claim) => {
            let user = check(state, claim).await?;
            if user.is_none() {
                // Revoked or deactivated: the refresh token is dead too.
                clear_session_cookies(cookies, &state.config);
            }
            parts.extensions.insert(user.clone().map_or(Resolved::Nobody, Resolved::User));
            user
        }
    };
    Ok(user)
}

/// What this request claims, checked or not: for a handler whose own query
/// checks the session ([`Claim`]).
pub fn resolved_claim(parts: &Parts) -> Result<Option<Claim>, AppError> {
    Ok(match resolved(parts)? {
        Resolved::Nobody => None,
        Resolved::Claimed(claim) => Some(claim),
        Resolved::User(user) => Some(Claim { user_id: user.id, session_id: user.session_id }),
    })
}

fn resolved(parts: &Parts) -> Result<Resolved, AppError> {
    parts
        .extensions
        .get::<Resolved>()
        .cloned()
        .ok_or_else(|| AppError::internal("resolve_session middleware is not installed on this route"))
}
