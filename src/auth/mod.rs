//! Who is asking. One middleware ([`resolve_session`]) reads the session
//! cookies of every page request before any handler runs: it verifies the
//! access JWT, checks its session row is live (so sign-out and revocation
//! take effect at once), and renews an expired access token from the refresh
//! cookie. Handlers learn the user only through the [`SignedIn`] extractor,
//! which is the only source of the owner id that queries receive.

pub mod cookies;
pub mod csrf;
pub mod password;
mod signup;
pub mod throttle;
pub mod tokens;

pub use signup::{Confirmation, SignUpError, confirm_sign_up, email_awaiting_confirmation, request_sign_up, sign_up};

use crate::domain::AuditEvent;
use crate::listener::Peer;
use axum::{
    extract::{ConnectInfo, FromRequestParts, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use std::net::IpAddr;
use tower_cookies::Cookies;
use uuid::Uuid;

use crate::{
    app::AppState,
    config::Limit,
    db::{
        sessions::{self, NewSession, Refresh},
        users,
    },
    domain::Email,
    error::AppError,
};
use tokens::{hash_refresh_token, random_token, seal_successor};

use cookies::set_session_cookies;
pub use cookies::{ACCESS_COOKIE, REFRESH_COOKIE, clear_session_cookies};

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

#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub id: Uuid,
    pub session_id: Uuid,
    pub email: String,
    pub name: Option<String>,
}

/// What [`resolve_session`] found, stored in the request's extensions.
#[derive(Clone, Debug)]
struct Resolved(Option<CurrentUser>);

pub async fn resolve_session(
    State(state): State<AppState>,
    cookies: Cookies,
    mut request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let user = authenticate(&state, &cookies).await?;
    request.extensions_mut().insert(Resolved(user));
    Ok(next.run(request).await)
}

async fn authenticate(state: &AppState, cookies: &Cookies) -> Result<Option<CurrentUser>, AppError> {
    if let Some(claims) = cookies.get(ACCESS_COOKIE).and_then(|c| state.keys.verify_access(c.value())) {
        let live = sessions::live_user(&state.db, claims.sid, claims.sub).await?;
        if live.is_none() {
            // Revoked or deactivated: the refresh token is dead too.
            clear_session_cookies(cookies, &state.config);
        }
        return Ok(live.map(|u| CurrentUser { id: u.user_id, session_id: claims.sid, email: u.email, name: u.name }));
    }

    let Some(presented) = cookies.get(REFRESH_COOKIE) else {
        return Ok(None);
    };
    let Some(Renewed { session_id, user_id, refresh }) = renew(state, presented.value(), "pages").await? else {
        clear_session_cookies(cookies, &state.config);
        return Ok(None);
    };
    // Inside the grace window the browser already holds the successor (the
    // parallel request set it): it gets a new access token only.
    let new_cookie = match refresh {
        Successor::New(token) => Some(token),
        Successor::Earlier(_) => None,
    };
    let Some(user) = sessions::live_user(&state.db, session_id, user_id).await? else {
        clear_session_cookies(cookies, &state.config);
        return Ok(None);
    };
    let access = state.keys.issue_access(user_id, session_id, state.config.access_token_ttl)?;
    set_session_cookies(cookies, &state.config, access, new_cookie);
    Ok(Some(CurrentUser { id: user_id, session_id, email: user.email, name: user.name }))
}

/// Where a request comes from, for the sessions list and security events.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let socket = parts.extensions.get::<ConnectInfo<Peer>>().map(|ConnectInfo(Peer(addr))| addr.ip());
        let ip = socket.map(|ip| client_ip(ip, &parts.headers, &state.config.trusted_proxies).to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect());
        Ok(ClientInfo { ip, user_agent })
    }
}

/// The client's address: the socket's, unless the socket is a trusted proxy;
/// then the nearest address in `X-Forwarded-For` that is not a trusted proxy
/// itself (everything further left could be made up by the client).
pub fn client_ip(socket: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&socket) {
        return socket;
    }
    let forwarded =
        headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    let mut nearest = socket;
    for hop in forwarded.split(',').rev().map(str::trim) {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => nearest = ip,
            Ok(ip) => return ip,
            Err(_) => return nearest,
        }
    }
    nearest
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
        &state.db,
        &NewSession {
            user_id,
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
        sessions::revoke(&state.db, previous.id, previous.session_id).await?;
    }
    let tokens = create_session(state, user_id, client).await?;
    set_session_cookies(cookies, &state.config, tokens.access, Some(tokens.refresh));
    Ok(tokens.session_id)
}

/// Revokes this browser's session and clears its cookies.
pub async fn end_session(state: &AppState, cookies: &Cookies, user: &CurrentUser) -> Result<(), AppError> {
    sessions::revoke(&state.db, user.id, user.session_id).await?;
    clear_session_cookies(cookies, &state.config);
    Ok(())
}

/// How a sign-in attempt ended.
#[derive(Debug)]
pub enum SignIn {
    Success(Uuid),
    /// Wrong email or password, or a deactivated account: one answer for all.
    Failed,
    /// Too many failures lately; try again after this many seconds.
    Throttled(u64),
}

/// Why a password is being checked: to sign in, or to confirm it is still
/// the signed-in user (changing the password, deleting the account). Both
/// are guesses at the same secret and count against the same limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    Reauthenticate,
}

/// Checks an email and password, within the throttling limits, and records
/// the outcome. The attempt is counted against the account's and the IP's
/// limits before anything else happens, atomically, so of many attempts at
/// once at most the limit reach the password check; a throttled attempt is
/// answered before any account is looked up, the same for every email.
/// Unknown and malformed emails still cost one argon2 run, like a wrong
/// password, so neither the answer nor its timing tells whether the email
/// has an account. A success takes its attempt back.
pub async fn sign_in(state: &AppState, email: &str, password: &str, client: &ClientInfo) -> Result<SignIn, AppError> {
    check_password(state, email, password, client, Purpose::SignIn).await
}

/// Re-authentication of the signed-in `user`: a sign-in attempt in every
/// respect (throttled, counted, recorded when wrong), whose success records
/// nothing.
pub async fn confirm_password(
    state: &AppState,
    user: &CurrentUser,
    password: &str,
    client: &ClientInfo,
) -> Result<SignIn, AppError> {
    match check_password(state, &user.email, password, client, Purpose::Reauthenticate).await? {
        SignIn::Success(id) if id == user.id => Ok(SignIn::Success(id)),
        SignIn::Success(_) => Ok(SignIn::Failed),
        other => Ok(other),
    }
}

async fn check_password(
    state: &AppState,
    email: &str,
    password: &str,
    client: &ClientInfo,
    purpose: Purpose,
) -> Result<SignIn, AppError> {
    let limits = &state.config.limits;
    let account = throttle::account_bucket(email);
    let ip = throttle::ip_bucket("signin", client.ip.as_deref());
    let counted =
        match throttle::take(state, &[(&account, limits.signin_per_account), (&ip, limits.signin_per_ip)]).await? {
            Ok(counted) => counted,
            Err(wait) => {
                tracing::warn!(
                    event = "auth.signin_throttled",
                    ip = client.ip.as_deref().unwrap_or("-"),
                    "sign-in throttled"
                );
                note_blocked_sign_in(state, email, client);
                return Ok(SignIn::Throttled(wait));
            }
        };
    let credentials = match Email::for_lookup(email) {
        Ok(email) => users::credentials_by_email(&state.db, &email).await?,
        Err(_) => None,
    };
    let verdict = state
        .passwords
        .verify_for(Some(&account), password, credentials.as_ref().map(|c| c.password_hash.as_str()))
        .await;
    let matches = match verdict {
        Ok(matches) => matches,
        // Shed before any verdict (the hashing queue is full): no guess was
        // checked, so none is counted against the account.
        Err(err) => {
            counted.refund(state).await?;
            return Err(err.into());
        }
    };
    match credentials {
        Some(user) if matches && user.is_active => {
            counted.refund(state).await?;
            if purpose == Purpose::SignIn {
                record_event(state, user.id, AuditEvent::SignIn, client).await?;
            }
            Ok(SignIn::Success(user.id))
        }
        found => {
            // Recorded in the background, so a wrong password costs the
            // same whether or not the email has an account.
            if let Some(user) = found {
                let (state, client) = (state.clone(), client.clone());
                crate::app::spawn_in_request(async move {
                    if let Err(err) = record_event(&state, user.id, AuditEvent::SignInFailed, &client).await {
                        tracing::warn!(error = %err, "could not record a failed sign-in");
                    }
                });
            }
            tracing::info!(
                event = "auth.signin_failed",
                ?purpose,
                ip = client.ip.as_deref().unwrap_or("-"),
                "sign-in failed"
            );
            Ok(SignIn::Failed)
        }
    }
}

/// After a throttled sign-in has been answered: records "sign-in blocked"
/// for the account, if the email has one, at most once per window. In the
/// background, so the answer costs the same for every email.
fn note_blocked_sign_in(state: &AppState, email: &str, client: &ClientInfo) {
    let Ok(email) = Email::for_lookup(email) else {
        return;
    };
    // A flood of throttled requests must not pile up work behind them: past
    // a handful of notes in progress, further ones are skipped (the event is
    // recorded once per window anyway).
    static NOTES_IN_PROGRESS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(8);
    let Ok(permit) = NOTES_IN_PROGRESS.try_acquire() else {
        return;
    };
    let (state, client) = (state.clone(), client.clone());
    crate::app::spawn_in_request(async move {
        let _permit = permit;
        let once = Limit { count: 1, window: state.config.limits.signin_per_account.window };
        let noted = async {
            if throttle::attempt(&state, &throttle::blocked_bucket(email.as_str()), once).await?.is_none()
                && let Some(user) = users::credentials_by_email(&state.db, &email).await?
            {
                record_event(&state, user.id, AuditEvent::SignInThrottled, &client).await?;
            }
            Ok::<(), AppError>(())
        };
        if let Err(err) = noted.await {
            tracing::warn!(error = %err, "could not record a blocked sign-in");
        }
    });
}

/// Stores a security event for the user's "Recent activity", and logs it
/// under the same name.
pub async fn record_event(
    state: &AppState,
    user_id: Uuid,
    event: AuditEvent,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let ip = client.ip.as_deref();
    tracing::info!(event = event.name(), %user_id, ip = ip.unwrap_or("-"), "{}", event.describe());
    let stored = crate::db::audit::Event { name: event, ip, user_agent: client.user_agent.as_deref() };
    Ok(crate::db::audit::record(&state.db, user_id, &stored, state.config.quotas.security_events_per_user).await?)
}

/// The user behind an API bearer token: a genuine, unexpired JWT whose
/// session is live. The same rules as the browser's cookie, minus renewal.
pub async fn authenticate_bearer(state: &AppState, token: &str) -> Result<Option<CurrentUser>, AppError> {
    let Some(claims) = state.keys.verify_access(token) else {
        return Ok(None);
    };
    let live = sessions::live_user(&state.db, claims.sid, claims.sub).await?;
    Ok(live.map(|u| CurrentUser { id: u.user_id, session_id: claims.sid, email: u.email, name: u.name }))
}

/// A signed-in user; without one, the request is sent to sign in.
#[derive(Clone, Debug)]
pub struct SignedIn(pub CurrentUser);

/// The user if signed in.
#[derive(Clone, Debug)]
pub struct MaybeSignedIn(pub Option<CurrentUser>);

fn resolved(parts: &Parts) -> Result<Option<CurrentUser>, AppError> {
    match parts.extensions.get::<Resolved>() {
        Some(Resolved(user)) => Ok(user.clone()),
        // Fail closed: a route outside the middleware has no user at all.
        None => Err(AppError::internal("resolve_session middleware is not installed on this route")),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match resolved(parts).map_err(IntoResponse::into_response)? {
            Some(user) => Ok(SignedIn(user)),
            None => Err(sign_in_first(parts)),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeSignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeSignedIn(resolved(parts)?))
    }
}

pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some_and(|v| v == "true")
}

/// 303 to the sign-in page, coming back here afterwards; htmx gets 401 with
/// `HX-Redirect` so it navigates instead of swapping a sign-in page into a list.
fn sign_in_first(parts: &Parts) -> Response {
    let back = if is_htmx(&parts.headers) {
        // Not the fragment's URL: the page the user is looking at.
        parts
            .headers
            .get("hx-current-url")
            .and_then(|v| v.to_str().ok())
            .and_then(|url| url.split_once("://"))
            .and_then(|(_, rest)| rest.find('/').map(|at| &rest[at..]))
            .unwrap_or("/tasks")
    } else if parts.method == axum::http::Method::GET {
        parts.uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/tasks")
    } else {
        "/tasks"
    };
    let target = format!("/signin?{}", serde_urlencoded::to_string([("next", back)]).unwrap_or_default());
    if is_htmx(&parts.headers) {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        if let Ok(value) = HeaderValue::from_str(&target) {
            response.headers_mut().insert("hx-redirect", value);
        }
        response
    } else {
        Redirect::to(&target).into_response()
    }
}

/// A `next` target that stays on this site: an absolute path, never `//host`
/// or `/\host` (which browsers read as another host).
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control)
                && !path.starts_with("/signin")
                && !path.starts_with("/signup") =>
        {
            path
        }
        _ => "/tasks",
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_only_leads_to_paths_on_this_site() {
        assert_eq!(safe_next(Some("/tasks?status=active")), "/tasks?status=active");
        for hostile in ["//evil.com", "/\\evil.com", "https://evil.com", "evil.com", "/\tx", "/signin"] {
            assert_eq!(safe_next(Some(hostile)), "/tasks", "{hostile:?}");
        }
        assert_eq!(safe_next(None), "/tasks");
    }
}
