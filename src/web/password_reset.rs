//! "Forgot password": a single-use link, valid for 30 minutes, by mail.
//! The request page answers the same whether or not the email has an
//! account, and the mail is sent in the background so the timing is the
//! same too.

use crate::domain::AuditEvent;
use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::extract::{Form, Query};
use crate::{
    app::AppState,
    auth::{
        ClientInfo,
        csrf::CsrfToken,
        record_event, throttle,
        tokens::{hash_refresh_token, random_token},
    },
    config::Limit,
    db::{resets, users},
    domain::{Email, GUESSABLE_PASSWORD, Password},
    error::AppError,
    web::account::{NewPassword, set_password},
};

pub const RESET_LIFETIME: time::Duration = time::Duration::minutes(30);

#[derive(Template, WebTemplate, Default)]
#[template(path = "auth/forgot.html")]
pub struct ForgotPage {
    csrf: String,
    sent: bool,
}

#[derive(Template, WebTemplate, Default)]
#[template(path = "auth/reset.html")]
pub struct ResetPage {
    csrf: String,
    token: String,
    /// False: the link is expired, used or unknown.
    valid: bool,
    password_error: Option<&'static str>,
}

pub async fn forgot_page(CsrfToken(csrf): CsrfToken) -> ForgotPage {
    ForgotPage { csrf, sent: false }
}

#[derive(Deserialize)]
pub struct ForgotForm {
    email: Option<String>,
}

pub async fn forgot(
    State(state): State<AppState>,
    CsrfToken(csrf): CsrfToken,
    client: ClientInfo,
    Form(form): Form<ForgotForm>,
) -> Result<Response, AppError> {
    let bucket = throttle::ip_bucket("reset", client.ip.as_deref());
    if let Some(wait) = throttle::attempt(&state, &bucket, state.config.limits.reset_per_ip).await? {
        return Err(AppError::TooManyRequests(wait));
    }
    // Answered before anything is looked up: the lookup, the link, the event
    // and the mail happen afterwards, so neither the answer nor its timing
    // tells whether the email has an account.
    if let Ok(email) = Email::for_lookup(form.email.as_deref().unwrap_or_default()) {
        crate::app::spawn_in_request(async move {
            if let Err(err) = mail_reset_link(&state, &email, &client).await {
                tracing::error!(error = %err, "password-reset mail not sent");
            }
        });
    }
    Ok(ForgotPage { csrf, sent: true }.into_response())
}

/// Reset mail one address may get per hour, however many requests name it.
const MAILS_PER_ADDRESS: Limit = Limit { count: 3, window: std::time::Duration::from_secs(3600) };

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

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

pub async fn reset_page(
    State(state): State<AppState>,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let token = query.token.unwrap_or_default();
    let valid = !token.is_empty() && resets::owner(&state.db, &hash_refresh_token(&token)).await?.is_some();
    let status = if valid { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    Ok((status, ResetPage { csrf, token, valid, password_error: None }).into_response())
}

#[derive(Deserialize)]
pub struct ResetForm {
    token: Option<String>,
    password: Option<String>,
}

pub async fn reset(
    State(state): State<AppState>,
    CsrfToken(csrf): CsrfToken,
    client: ClientInfo,
    Form(form): Form<ResetForm>,
) -> Result<Response, AppError> {
    let token = form.token.unwrap_or_default();
    let hash = hash_refresh_token(&token);
    let invalid = |csrf: String, token: String| {
        (StatusCode::BAD_REQUEST, ResetPage { csrf, token, valid: false, password_error: None }).into_response()
    };
    let owner = if token.is_empty() { None } else { resets::owner(&state.db, &hash).await? };
    let Some(user_id) = owner else {
        return Ok(invalid(csrf, token));
    };
    let password = match Password::parse(form.password.as_deref().unwrap_or_default()) {
        Ok(password) => password,
        Err(message) => {
            let page = ResetPage { csrf, token, valid: true, password_error: Some(message) };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    if !state.passwords.strong_enough(&password, &[]).await? {
        let page = ResetPage { csrf, token, valid: true, password_error: Some(GUESSABLE_PASSWORD) };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    // The link is spent with the new password, in one transaction: of two
    // clicks at once only one sets it, and a failure before (a busy hashing
    // queue, say) leaves the link working.
    if !set_password(&state, user_id, &[], &password, NewPassword::ViaReset(&hash)).await? {
        return Ok(invalid(csrf, token));
    }
    record_event(&state, user_id, AuditEvent::PasswordReset, &client).await?;
    Ok(Redirect::to("/signin?notice=reset").into_response())
}
