//! Changing the password (signed in, with the current one) and resetting it
//! (signed out, with a single-use link by mail, valid for 30 minutes).

use uuid::Uuid;

use super::{Refused, SignIn, confirm_password, record_event};
use crate::{
    app::AppState,
    auth::{
        ClientInfo, CurrentUser, throttle,
        tokens::{hash_refresh_token, random_token},
    },
    config::Limit,
    db::{resets, users},
    domain::{AuditEvent, Email, GUESSABLE_PASSWORD, Password},
    error::AppError,
};

pub const RESET_LIFETIME: time::Duration = time::Duration::minutes(30);

/// Reset mail one address may get per hour, however many requests name it.
const MAILS_PER_ADDRESS: Limit = Limit { count: 3, window: std::time::Duration::from_secs(3600) };

/// Checks the signed-in user's password again: a sign-in attempt, counted
/// and throttled as one (past the limit: 429).
pub(super) async fn reauthenticate(
    state: &AppState,
    user: &CurrentUser,
    password: &str,
    client: &ClientInfo,
) -> Result<bool, AppError> {
    match confirm_password(state, user, password, client).await? {
        SignIn::Success(_) => Ok(true),
        SignIn::Failed => Ok(false),
        SignIn::Throttled(wait) => Err(AppError::TooManyRequests(wait)),
    }
}

/// Replaces the signed-in user's password, once `current` re-authenticates
/// them. Every other session is signed out and every reset link spent; this
/// session stays.
pub async fn change_password(
    state: &AppState,
    user: &CurrentUser,
    current: &str,
    new: &str,
    client: &ClientInfo,
) -> Result<Result<(), Refused>, AppError> {
    let new = match Password::parse(new) {
        Ok(new) => new,
        Err(message) => return Ok(Err(Refused(message))),
    };
    if !reauthenticate(state, user, current, client).await? {
        return Ok(Err(Refused("Your current password is not right.")));
    }
    let mut personal = vec![user.email.as_str()];
    personal.extend(user.name.as_deref());
    if !state.passwords.strong_enough(&new, &personal).await? {
        return Ok(Err(Refused(GUESSABLE_PASSWORD)));
    }
    set_password(state, user.id, &new, NewPassword::Keeping(user.session_id)).await?;
    record_event(state, user.id, AuditEvent::PasswordChanged, client).await?;
    Ok(Ok(()))
}

/// "Forgot password": throttled per IP (429), then answered before anything
/// is looked up. The lookup, the link, the event and the mail happen in the
/// background, so neither the answer nor its timing tells whether the email
/// has an account.
pub async fn request_reset(state: &AppState, email: &str, client: &ClientInfo) -> Result<(), AppError> {
    let bucket = throttle::ip_bucket("reset", client.ip.as_deref());
    if let Some(wait) = throttle::attempt(state, &bucket, state.config.limits.reset_per_ip).await? {
        return Err(AppError::TooManyRequests(wait));
    }
    if let Ok(email) = Email::for_lookup(email) {
        let (state, client) = (state.clone(), client.clone());
        crate::app::spawn_in_request(async move {
            if let Err(err) = mail_reset_link(&state, &email, &client).await {
                tracing::error!(error = %err, "password-reset mail not sent");
            }
        });
    }
    Ok(())
}

async fn mail_reset_link(state: &AppState, email: &Email, client: &ClientInfo) -> Result<(), AppError> {
    let Some(user) = users::credentials_by_email(&state.db, email).await?.filter(|user| user.is_active) else {
        return Ok(());
    };
    if throttle::attempt(state, &throttle::reset_mail_bucket(email.as_str()), MAILS_PER_ADDRESS).await?.is_some() {
        tracing::warn!(event = "auth.reset_mail_throttled", "password-reset mail to one address throttled");
        return Ok(());
    }
    let token = random_token();
    resets::create(&state.db, user.id, &hash_refresh_token(&token), RESET_LIFETIME).await?;
    record_event(state, user.id, AuditEvent::PasswordResetRequested, client).await?;
    let link = format!("{}/reset-password?token={token}", state.config.public_url());
    let body = format!(
        "Someone (hopefully you) asked to reset the password of your doable account.\n\n\
         To choose a new password, open this link within 30 minutes:\n\n{link}\n\n\
         If you did not ask for this, ignore this message; your password stays as it is.\n"
    );
    state
        .mailer
        .send(email.as_str(), "Reset your doable password", body)
        .await
        .map_err(|err| AppError::Internal(Box::new(err)))
}

/// The account a reset link is for, while it works, by the link's token hash.
async fn reset_link_owner(state: &AppState, token_hash: Option<&str>) -> Result<Option<Uuid>, AppError> {
    match token_hash {
        Some(hash) => Ok(resets::owner(&state.db, hash).await?),
        None => Ok(None),
    }
}

/// What a reset link's token is stored as; none for an empty one.
fn reset_token_hash(token: &str) -> Option<String> {
    (!token.is_empty()).then(|| hash_refresh_token(token))
}

/// True while a reset link works (not expired, used or unknown).
pub async fn reset_link_works(state: &AppState, token: &str) -> Result<bool, AppError> {
    Ok(reset_link_owner(state, reset_token_hash(token).as_deref()).await?.is_some())
}

/// How following a reset link with a new password ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Reset {
    /// Set; every session is signed out.
    Done,
    /// Expired, used or unknown.
    LinkDead,
    Refused(Refused),
}

/// Sets a new password through a reset link. The link is spent with the new
/// password, in one transaction: of two clicks at once only one sets it, and
/// a failure before (a busy hashing queue, say) leaves the link working.
pub async fn reset_password(
    state: &AppState,
    token: &str,
    password: &str,
    client: &ClientInfo,
) -> Result<Reset, AppError> {
    let token_hash = reset_token_hash(token);
    let (Some(user_id), Some(token_hash)) = (reset_link_owner(state, token_hash.as_deref()).await?, &token_hash) else {
        return Ok(Reset::LinkDead);
    };
    let password = match Password::parse(password) {
        Ok(password) => password,
        Err(message) => return Ok(Reset::Refused(Refused(message))),
    };
    if !state.passwords.strong_enough(&password, &[]).await? {
        return Ok(Reset::Refused(Refused(GUESSABLE_PASSWORD)));
    }
    if !set_password(state, user_id, &password, NewPassword::ViaReset(token_hash)).await? {
        return Ok(Reset::LinkDead);
    }
    record_event(state, user_id, AuditEvent::PasswordReset, client).await?;
    Ok(Reset::Done)
}

/// How a new password comes: through a reset link (by its token hash,
/// spent with it), or from the signed-in user, who keeps this session.
enum NewPassword<'a> {
    ViaReset(&'a str),
    Keeping(Uuid),
}

/// Sets a new password (already judged strong enough), spends every reset
/// link and revokes every session but the one kept, all in one
/// transaction; false (and nothing changed) when the reset link no longer
/// works.
async fn set_password(state: &AppState, user_id: Uuid, new: &Password, how: NewPassword<'_>) -> Result<bool, AppError> {
    // Hashed first: the slow part, and the one that may be refused (503).
    let hash = state.passwords.hash(new).await?;
    let (via_reset, keep) = match how {
        NewPassword::ViaReset(token_hash) => (Some(token_hash), None),
        NewPassword::Keeping(session) => (None, Some(session)),
    };
    Ok(users::replace_password(state.db.for_user(user_id), &hash, via_reset, keep).await?)
}
