//! The account rules, for pages and API alike: signing up (in either
//! `SIGNUP_CONFIRMATION` mode), signing in and re-authenticating, changing
//! and resetting the password, signing out, revoking sessions, deleting the
//! account, and the security events each of these records. Handlers in
//! `web/` and `api/` translate between their wire shape and these functions;
//! none of them decides a rule of its own.

mod password;
mod signin;
mod signup;

pub use password::{Reset, change_password, request_reset, reset_link_works, reset_password};
use signin::confirm_password;
pub use signin::{SignIn, sign_in};
pub use signup::{
    CONFIRMATION_LIFETIME, Confirmation, SignUp, SignUpError, confirm_sign_up, email_awaiting_confirmation, sign_up,
};

use uuid::Uuid;

use crate::{
    app::AppState,
    auth::{ClientInfo, CurrentUser},
    db::{audit, sessions, users},
    domain::{AuditEvent, parse_name},
    error::AppError,
};

/// A request the rules turned down, with the message to show beside the
/// field it is about.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused(pub &'static str);

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
    let stored = audit::Event { name: event, ip, user_agent: client.user_agent.as_deref() };
    Ok(audit::record(state.db.for_user(user_id), &stored, state.config.quotas.security_events_per_user).await?)
}

/// Sets (or, empty, clears) the name shown for the account.
pub async fn rename(
    state: &AppState,
    user: &CurrentUser,
    name: Option<&str>,
    client: &ClientInfo,
) -> Result<Result<(), Refused>, AppError> {
    let name = match parse_name(name) {
        Ok(name) => name,
        Err(message) => return Ok(Err(Refused(message))),
    };
    users::set_name(state.db.for_user(user.id), name.as_deref()).await?;
    record_event(state, user.id, AuditEvent::ProfileUpdated, client).await?;
    Ok(Ok(()))
}

/// Ends the session the request came with.
pub async fn sign_out(state: &AppState, user: &CurrentUser, client: &ClientInfo) -> Result<(), AppError> {
    sessions::revoke(state.db.for_user(user.id), user.session_id).await?;
    record_event(state, user.id, AuditEvent::SignOut, client).await
}

/// Ends one of the user's sessions; false when they have no such live one.
pub async fn revoke_session(
    state: &AppState,
    user: &CurrentUser,
    session_id: Uuid,
    client: &ClientInfo,
) -> Result<bool, AppError> {
    if !sessions::revoke(state.db.for_user(user.id), session_id).await? {
        return Ok(false);
    }
    record_event(state, user.id, AuditEvent::SessionRevoked, client).await?;
    Ok(true)
}

/// Ends every session of the user, this one included.
pub async fn sign_out_everywhere(state: &AppState, user: &CurrentUser, client: &ClientInfo) -> Result<(), AppError> {
    sessions::revoke_all(state.db.for_user(user.id), None).await?;
    record_event(state, user.id, AuditEvent::SessionsRevokedAll, client).await
}

/// Deletes the account with everything in it, once `password` re-authenticates
/// the user (a sign-in attempt, throttled as one: past the limit, 429).
pub async fn delete(
    state: &AppState,
    user: &CurrentUser,
    password: &str,
    client: &ClientInfo,
) -> Result<Result<(), Refused>, AppError> {
    if !password::reauthenticate(state, user, password, client).await? {
        return Ok(Err(Refused("That password is not right. Your account was not deleted.")));
    }
    users::delete(state.db.for_user(user.id)).await?;
    tracing::info!(event = "account.deleted", user_id = %user.id, "account deleted with its tasks and sessions");
    Ok(Ok(()))
}
