//! Sign-up, sign-in and sign-out pages.

use crate::domain::AuditEvent;
use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use tower_cookies::Cookies;

use super::extract::{Form, Query};
use crate::{
    app::AppState,
    auth::{
        ClientInfo, Confirmation, MaybeSignedIn, SignIn, SignUpError, SignedIn, confirm_sign_up, csrf::CsrfToken,
        email_awaiting_confirmation, end_session, record_event, request_sign_up, safe_next, sign_in, sign_up,
        start_session,
    },
    error::AppError,
};

/// One message for every failed sign-in, so it tells nobody whether the
/// email has an account.
const SIGNIN_FAILED: &str = "That email and password do not match an account.";
const SIGNIN_THROTTLED: &str = "Too many failed attempts. Wait a few minutes and try again, or reset your password.";

#[derive(Template, WebTemplate, Default)]
#[template(path = "auth/signup.html")]
pub struct SignupPage {
    csrf: String,
    email: String,
    name: String,
    email_error: Option<&'static str>,
    name_error: Option<&'static str>,
    password_error: Option<&'static str>,
}

#[derive(Template, WebTemplate, Default)]
#[template(path = "auth/signin.html")]
pub struct SigninPage {
    csrf: String,
    email: String,
    next: String,
    error: Option<&'static str>,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    notice: Option<String>,
}

pub async fn signup_page(MaybeSignedIn(user): MaybeSignedIn, CsrfToken(csrf): CsrfToken) -> Response {
    if user.is_some() {
        return Redirect::to("/tasks").into_response();
    }
    SignupPage { csrf, ..Default::default() }.into_response()
}

#[derive(Deserialize)]
pub struct SignupForm {
    email: Option<String>,
    password: Option<String>,
    name: Option<String>,
}

pub async fn signup(
    State(state): State<AppState>,
    MaybeSignedIn(previous): MaybeSignedIn,
    cookies: Cookies,
    client: ClientInfo,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<SignupForm>,
) -> Result<Response, AppError> {
    let email = form.email.unwrap_or_default();
    let name = form.name.unwrap_or_default();
    let mut page = SignupPage { csrf, email: email.trim().to_owned(), name: name.clone(), ..Default::default() };
    let password = form.password.as_deref().unwrap_or_default();
    let outcome = if state.config.confirm_signup_by_email {
        request_sign_up(&state, &email, password, Some(&name), &client).await.map(|()| None)
    } else {
        sign_up(&state, &email, password, Some(&name), &client).await.map(Some)
    };
    match outcome {
        Ok(Some(user)) => {
            start_session(&state, &cookies, user.id, &client, previous.as_ref()).await?;
            Ok(Redirect::to("/tasks").into_response())
        }
        // The same for every address, taken or not: the mail tells them apart.
        Ok(None) => Ok(Redirect::to("/signup/sent").into_response()),
        Err(SignUpError::Invalid(errors)) => {
            for (field, message) in errors {
                match field {
                    "email" => page.email_error = Some(message),
                    "password" => page.password_error = Some(message),
                    _ => page.name_error = Some(message),
                }
            }
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(SignUpError::EmailTaken) => {
            page.email_error = Some("An account with this email already exists. Sign in instead?");
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(SignUpError::Throttled(wait)) => Err(AppError::TooManyRequests(wait)),
        Err(SignUpError::Failed(err)) => Err(err),
    }
}

/// "Check your inbox", after a sign-up that waits for confirmation.
#[derive(Template, WebTemplate)]
#[template(path = "auth/signup_sent.html")]
pub struct SignupSentPage;

pub async fn signup_sent_page() -> SignupSentPage {
    SignupSentPage
}

/// Where a confirmation link leads: the password chosen at sign-up and a
/// button that creates the account (a POST, so a mail scanner fetching the
/// link creates nothing).
#[derive(Template, WebTemplate, Default)]
#[template(path = "auth/signup_confirm.html")]
pub struct ConfirmPage {
    csrf: String,
    token: String,
    /// The address the link creates an account for; `None`: the link is dead
    /// (or, with `taken`, the address got an account since).
    email: Option<String>,
    taken: bool,
    password_error: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct ConfirmQuery {
    token: Option<String>,
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    token: Option<String>,
    password: Option<String>,
}

pub async fn confirm_page(
    State(state): State<AppState>,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<ConfirmQuery>,
) -> Result<Response, AppError> {
    let token = query.token.unwrap_or_default();
    let email = email_awaiting_confirmation(&state, &token).await?;
    let status = if email.is_some() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    Ok((status, ConfirmPage { csrf, token, email, ..Default::default() }).into_response())
}

pub async fn confirm(
    State(state): State<AppState>,
    MaybeSignedIn(previous): MaybeSignedIn,
    cookies: Cookies,
    client: ClientInfo,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, AppError> {
    let token = form.token.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    let page = ConfirmPage { csrf, ..Default::default() };
    match confirm_sign_up(&state, &token, &password, &client).await? {
        Confirmation::Created(user) => {
            start_session(&state, &cookies, user.id, &client, previous.as_ref()).await?;
            Ok(Redirect::to("/tasks").into_response())
        }
        Confirmation::WrongPassword { email } => {
            let password_error = Some(
                "That is not the password chosen at sign-up. If you did not sign up with this address, \
                 someone else did: ignore the link and sign up yourself.",
            );
            Ok((StatusCode::UNPROCESSABLE_ENTITY, ConfirmPage { token, email: Some(email), password_error, ..page })
                .into_response())
        }
        Confirmation::LinkDead => Ok((StatusCode::BAD_REQUEST, page).into_response()),
        Confirmation::EmailTaken => Ok((StatusCode::CONFLICT, ConfirmPage { taken: true, ..page }).into_response()),
    }
}

pub async fn signin_page(
    MaybeSignedIn(user): MaybeSignedIn,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<NextQuery>,
) -> Response {
    let next = safe_next(query.next.as_deref()).to_owned();
    if user.is_some() {
        return Redirect::to(&next).into_response();
    }
    let notice = match query.notice.as_deref() {
        Some("reset") => Some("Your password was changed. Sign in with the new one."),
        Some("deleted") => Some("Your account and everything in it were deleted."),
        _ => None,
    };
    SigninPage { csrf, next, notice, ..Default::default() }.into_response()
}

#[derive(Deserialize)]
pub struct SigninForm {
    email: Option<String>,
    password: Option<String>,
    next: Option<String>,
}

pub async fn signin(
    State(state): State<AppState>,
    MaybeSignedIn(previous): MaybeSignedIn,
    cookies: Cookies,
    client: ClientInfo,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<SigninForm>,
) -> Result<Response, AppError> {
    let email = form.email.unwrap_or_default();
    let next = safe_next(form.next.as_deref()).to_owned();
    let email_kept = email.trim().to_owned();
    match sign_in(&state, &email, form.password.as_deref().unwrap_or_default(), &client).await? {
        SignIn::Success(user_id) => {
            start_session(&state, &cookies, user_id, &client, previous.as_ref()).await?;
            Ok(Redirect::to(&next).into_response())
        }
        SignIn::Failed => {
            let page = SigninPage { csrf, email: email_kept, next, error: Some(SIGNIN_FAILED), notice: None };
            Ok((StatusCode::UNAUTHORIZED, page).into_response())
        }
        SignIn::Throttled(wait) => {
            let page = SigninPage { csrf, email: email_kept, next, error: Some(SIGNIN_THROTTLED), notice: None };
            let mut response = (StatusCode::TOO_MANY_REQUESTS, page).into_response();
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, wait.into());
            Ok(response)
        }
    }
}

pub async fn signout(
    State(state): State<AppState>,
    cookies: Cookies,
    client: ClientInfo,
    SignedIn(user): SignedIn,
) -> Result<Redirect, AppError> {
    end_session(&state, &cookies, &user).await?;
    record_event(&state, user.id, AuditEvent::SignOut, &client).await?;
    Ok(Redirect::to("/signin"))
}
