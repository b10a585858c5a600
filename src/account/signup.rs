//! Creating accounts, in one of two ways (`SIGNUP_CONFIRMATION`):
//!
//! * at once ([`create_at_once`], the default and the contract's): the account
//!   exists and its owner is signed in straight away. A taken email must then
//!   be refused, which tells the visitor the address has an account; every
//!   attempt counts against the per-IP limit and spends a full hash, so
//!   probing is slow and its timing flat.
//! * by mail ([`request_sign_up`], then [`confirm_sign_up`]): every valid
//!   sign-up gets the same answer, "check your inbox", at once. A new address
//!   is sent a link that creates the account when opened with the password
//!   chosen at sign-up; an address that has one is sent a note saying so.
//!   Only the mailbox's owner learns which.

use time::Duration;

use super::record_event;
use crate::{
    app::AppState,
    auth::{
        ClientInfo, throttle,
        tokens::{hash_refresh_token, random_token},
    },
    db::{DbError, signups, users},
    domain::{AuditEvent, Email, GUESSABLE_PASSWORD, Password, parse_name},
    error::AppError,
};

/// How long a confirmation link works.
pub const CONFIRMATION_LIFETIME: Duration = Duration::hours(24);

/// Why a sign-up did not go ahead.
#[derive(Debug)]
pub enum SignUpError {
    /// Field name and message for each field that is wrong.
    Invalid(Vec<(&'static str, &'static str)>),
    EmailTaken,
    /// Too many sign-ups from this address lately.
    Throttled(u64),
    Failed(AppError),
}

impl<E: Into<AppError>> From<E> for SignUpError {
    fn from(err: E) -> Self {
        SignUpError::Failed(err.into())
    }
}

/// A sign-up's input, checked, with the password hashed.
struct NewAccount {
    email: Email,
    name: Option<String>,
    password_hash: String,
}

/// Throttles, checks the fields and the password's strength, and hashes it:
/// what either way of signing up does first. Nothing here depends on whether
/// the email has an account.
async fn check(
    state: &AppState,
    email: &str,
    password: &str,
    name: Option<&str>,
    client: &ClientInfo,
) -> Result<NewAccount, SignUpError> {
    // Every attempt counts, so probing which emails have accounts is slow.
    let bucket = throttle::ip_bucket("signup", client.ip.as_deref());
    if let Some(wait) = throttle::attempt(state, &bucket, state.config.limits.signup_per_ip).await? {
        tracing::warn!(event = "auth.signup_throttled", ip = client.ip.as_deref().unwrap_or("-"), "sign-up throttled");
        return Err(SignUpError::Throttled(wait));
    }
    let (email, password, name) = (Email::parse(email), Password::parse(password), parse_name(name));
    let (Ok(email), Ok(password), Ok(name)) = (email.clone(), &password, name.clone()) else {
        let errors = [("email", email.err()), ("password", password.err()), ("name", name.err())]
            .into_iter()
            .filter_map(|(field, error)| error.map(|e| (field, e)))
            .collect();
        return Err(SignUpError::Invalid(errors));
    };
    let mut inputs = vec![email.as_str()];
    inputs.extend(name.as_deref());
    if !state.passwords.strong_enough(password, &inputs).await? {
        return Err(SignUpError::Invalid(vec![("password", GUESSABLE_PASSWORD)]));
    }
    let password_hash = state.passwords.hash(password).await?;
    Ok(NewAccount { email, name, password_hash })
}

/// How a sign-up that went ahead ended.
#[derive(Debug)]
pub enum SignUp {
    /// The account exists (no session yet).
    Created(users::User),
    /// `SIGNUP_CONFIRMATION=email`: the same answer for every address, taken
    /// or not; the mail tells them apart.
    MailSent,
}

/// Signs up in the mode the server runs in.
pub async fn sign_up(
    state: &AppState,
    email: &str,
    password: &str,
    name: Option<&str>,
    client: &ClientInfo,
) -> Result<SignUp, SignUpError> {
    if state.config.confirm_signup_by_email {
        request_sign_up(state, email, password, name, client).await.map(|()| SignUp::MailSent)
    } else {
        create_at_once(state, email, password, name, client).await.map(SignUp::Created)
    }
}

/// Checks the input and creates the account at once (no session yet).
async fn create_at_once(
    state: &AppState,
    email: &str,
    password: &str,
    name: Option<&str>,
    client: &ClientInfo,
) -> Result<users::User, SignUpError> {
    let new = check(state, email, password, name, client).await?;
    create_account(state, &new, client).await?.ok_or(SignUpError::EmailTaken)
}

/// Stores the account; `None` when the email has one already.
async fn create_account(
    state: &AppState,
    new: &NewAccount,
    client: &ClientInfo,
) -> Result<Option<users::User>, AppError> {
    match users::create(&state.db, &new.email, new.name.as_deref(), &new.password_hash).await {
        Ok(user) => {
            record_event(state, user.id, AuditEvent::SignUp, client).await?;
            Ok(Some(user))
        }
        Err(DbError::Conflict(_)) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Checks the input, then answers at once: what happens next (a link that
/// creates the account, or a note that the address has one) happens in the
/// background, so neither the answer nor its timing depends on whether the
/// email has an account. Never `EmailTaken`.
async fn request_sign_up(
    state: &AppState,
    email: &str,
    password: &str,
    name: Option<&str>,
    client: &ClientInfo,
) -> Result<(), SignUpError> {
    let new = check(state, email, password, name, client).await?;
    let (state, client) = (state.clone(), client.clone());
    crate::app::spawn_in_request(async move {
        if let Err(err) = mail_sign_up(&state, new, &client).await {
            tracing::error!(error = %err, "sign-up mail not sent");
        }
    });
    Ok(())
}

/// Mails the confirmation link (or, for a taken address, a note that it has
/// an account). `RATE_LIMIT_SIGNUP_MAIL_PER_ADDRESS` limits how often an
/// address gets mail on anyone's request, never whose request gets it: past
/// the limit the newest request waits for the next free slot, and any older
/// one still waiting gives way to it. A stranger who asks first cannot use
/// up the owner's mail: the owner asking last is who is mailed next.
async fn mail_sign_up(state: &AppState, new: NewAccount, client: &ClientInfo) -> Result<(), AppError> {
    let ip = client.ip.as_deref().unwrap_or("-");
    let bucket = throttle::recipient_bucket(new.email.as_str());
    let limit = state.config.limits.signup_mail_per_address;
    let base = state.config.public_url();
    if users::credentials_by_email(&state.db, &new.email).await?.is_some() {
        // The note is the same whoever asked: one inside the window is enough.
        if throttle::attempt(state, &bucket, limit).await?.is_some() {
            tracing::warn!(event = "auth.signup_mail_throttled", ip, "sign-up mail to one address throttled");
            return Ok(());
        }
        tracing::info!(event = "auth.signup_existing", ip, "sign-up for a taken email");
        let body = format!(
            "Someone (hopefully you) tried to create a doable account with this address, which already has one.\n\n\
             To sign in: {base}/signin\n\
             Forgot the password? {base}/forgot-password\n\n\
             If it was not you, ignore this message; nothing has changed.\n"
        );
        return send(state, &new.email, "Your doable account", body).await;
    }
    let token = random_token();
    let hash = hash_refresh_token(&token);
    signups::create(&state.db, &hash, &new.email, new.name.as_deref(), &new.password_hash, CONFIRMATION_LIFETIME)
        .await?;
    tracing::info!(event = "auth.signup_requested", ip, "sign-up awaits confirmation");
    while let Some(wait) = throttle::attempt(state, &bucket, limit).await? {
        tracing::info!(event = "auth.signup_mail_deferred", ip, wait, "sign-up mail waits for the address's next slot");
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
        if !signups::is_newest_for(&state.db, &new.email, &hash).await? {
            // A newer request for the address will be mailed instead; this
            // one was never sent, so its link goes.
            signups::remove(&state.db, &hash).await?;
            return Ok(());
        }
    }
    let body = format!(
        "Someone (hopefully you) signed up for doable with this address.\n\n\
         To create the account, open this link within 24 hours and enter the password you chose:\n\n\
         {base}/signup/confirm?token={token}\n\n\
         If it was not you, ignore this message; no account is created.\n"
    );
    send(state, &new.email, "Confirm your doable account", body).await
}

async fn send(state: &AppState, to: &Email, subject: &str, body: String) -> Result<(), AppError> {
    state.mailer.send(to.as_str(), subject, body).await.map_err(|err| AppError::Internal(Box::new(err)))
}

/// The address a confirmation link would create an account for, while it
/// works.
pub async fn email_awaiting_confirmation(state: &AppState, token: &str) -> Result<Option<String>, AppError> {
    Ok(pending(state, token).await?.map(|request| request.email))
}

/// The live sign-up request behind a confirmation link's token.
async fn pending(state: &AppState, token: &str) -> Result<Option<signups::SignupRequest>, AppError> {
    if token.is_empty() {
        return Ok(None);
    }
    Ok(signups::find(&state.db, &hash_refresh_token(token)).await?)
}

/// What following a confirmation link led to.
#[derive(Debug)]
pub enum Confirmation {
    Created(users::User),
    /// Not the password given at sign-up (for this address): perhaps
    /// someone else signed up with it, hoping its owner would confirm their
    /// request.
    WrongPassword {
        email: String,
    },
    /// Expired, used or unknown.
    LinkDead,
    /// The address got an account since (another link, say).
    EmailTaken,
}

/// Creates the account a confirmation link stands for, if `password` is the
/// one chosen at sign-up, and spends every pending link for the address.
pub async fn confirm_sign_up(
    state: &AppState,
    token: &str,
    password: &str,
    client: &ClientInfo,
) -> Result<Confirmation, AppError> {
    let Some(request) = pending(state, token).await? else {
        return Ok(Confirmation::LinkDead);
    };
    // Asking again is what makes a link useless to anyone but the person who
    // chose the password: an impostor's request for this address cannot be
    // confirmed by its owner by mistake.
    if !state.passwords.verify(password, Some(&request.password_hash)).await? {
        return Ok(Confirmation::WrongPassword { email: request.email });
    }
    let Ok(email) = Email::for_lookup(&request.email) else {
        return Ok(Confirmation::LinkDead);
    };
    let new = NewAccount { email, name: request.name, password_hash: request.password_hash };
    // The account first, then the links: if the database fails in between,
    // the link still works, and a second use finds the address taken.
    let outcome = match create_account(state, &new, client).await? {
        Some(user) => Confirmation::Created(user),
        None => Confirmation::EmailTaken,
    };
    signups::remove_for(&state.db, &new.email).await?;
    Ok(outcome)
}
