//! Who is asking. Handlers learn the user only from the session (cookies for
//! pages, a bearer token for the API), which is the only source of the
//! owner id that queries receive.
//!
//! * [`session`]: sessions, their renewal, and the middleware that resolves
//!   one for every page request;
//! * [`cookies`]: the one cookie policy; [`csrf`]: forms' tokens;
//! * [`client`]: where a request comes from;
//! * [`password`]: argon2 hashing, bounded; [`throttle`]: attempt counters;
//!   [`tokens`]: JWTs and random tokens.
//!
//! What an account may do with them (sign in, change a password, …) is
//! `crate::account`.

pub mod client;
pub mod cookies;
pub mod csrf;
pub mod password;
pub mod session;
pub mod throttle;
pub mod tokens;

pub use client::{ClientInfo, client_ip};
pub use cookies::{ACCESS_COOKIE, REFRESH_COOKIE, clear_session_cookies};
pub use session::{
    Claim, IssuedTokens, REFRESH_GRACE, Renewed, Successor, bearer_claim, check, create_session, renew,
    resolve_session, resolved_claim, resolved_user, start_session,
};

use uuid::Uuid;

/// The signed-in user of a request.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub id: Uuid,
    pub session_id: Uuid,
    pub email: String,
    pub name: Option<String>,
}

impl CurrentUser {
    /// The user of a claim whose session was found live.
    pub fn of(claim: Claim, user: crate::db::sessions::SessionUser) -> Self {
        CurrentUser { id: claim.user_id, session_id: claim.session_id, email: user.email, name: user.name }
    }
}
