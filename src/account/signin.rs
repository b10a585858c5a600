//! Checking a password: to sign in, and to re-authenticate a signed-in user
//! before a change that needs it. Both are guesses at the same secret, so
//! both are throttled, counted before the check and recorded the same way.

use uuid::Uuid;

use super::record_event;
use crate::{
    app::AppState,
    auth::{ClientInfo, CurrentUser, throttle},
    config::Limit,
    db::users,
    domain::{AuditEvent, Email},
    error::AppError,
};

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
