//! Sign-up, sign-in and sign-out pages.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Form,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use tower_cookies::Cookies;

use crate::{
    app::AppState,
    auth::{ClientInfo, MaybeSignedIn, SignedIn, csrf::CsrfToken, end_session, safe_next, start_session},
    db::{DbError, users},
    domain::{Email, Password, parse_name},
    error::AppError,
};

/// One message for every failed sign-in, so it tells nobody whether the
/// email has an account.
const SIGNIN_FAILED: &str = "That email and password do not match an account.";

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
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
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
    cookies: Cookies,
    client: ClientInfo,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<SignupForm>,
) -> Result<Response, AppError> {
    let raw_email = form.email.unwrap_or_default();
    let email = Email::parse(&raw_email);
    let name = parse_name(form.name.as_deref());
    let password = Password::parse(form.password.as_deref().unwrap_or_default());
    let mut page = SignupPage {
        csrf,
        email: raw_email.trim().to_owned(),
        name: form.name.unwrap_or_default(),
        email_error: email.as_ref().err().copied(),
        name_error: name.as_ref().err().copied(),
        password_error: password.as_ref().err().copied(),
    };
    let (Ok(email), Ok(name), Ok(password)) = (email, name, password) else {
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };

    let hash = state.passwords.hash(&password).await?;
    let user = match users::create(&state.db, &email, name.as_deref(), &hash).await {
        Ok(user) => user,
        Err(DbError::Conflict(_)) => {
            page.email_error = Some("An account with this email already exists. Sign in instead?");
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
        Err(err) => return Err(err.into()),
    };
    tracing::info!(event = "auth.signup", user_id = %user.id, "account created");
    start_session(&state, &cookies, user.id, &client).await?;
    Ok(Redirect::to("/tasks").into_response())
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
    SigninPage { csrf, next, ..Default::default() }.into_response()
}

#[derive(Deserialize)]
pub struct SigninForm {
    email: Option<String>,
    password: Option<String>,
    next: Option<String>,
}

pub async fn signin(
    State(state): State<AppState>,
    cookies: Cookies,
    client: ClientInfo,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<SigninForm>,
) -> Result<Response, AppError> {
    let raw_email = form.email.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    let next = safe_next(form.next.as_deref()).to_owned();

    // Unknown and malformed emails still cost one argon2 run, like a wrong
    // password, so the response time tells nothing either.
    let credentials = match Email::parse(&raw_email) {
        Ok(email) => users::credentials_by_email(&state.db, &email).await?,
        Err(_) => None,
    };
    let password_ok = state.passwords.verify(&password, credentials.as_ref().map(|c| c.password_hash.as_str())).await?;

    match credentials {
        Some(user) if password_ok && user.is_active => {
            start_session(&state, &cookies, user.id, &client).await?;
            tracing::info!(event = "auth.signin", user_id = %user.id, "signed in");
            Ok(Redirect::to(&next).into_response())
        }
        _ => {
            tracing::info!(event = "auth.signin_failed", "sign-in failed");
            let page = SigninPage { csrf, email: raw_email.trim().to_owned(), next, error: Some(SIGNIN_FAILED) };
            Ok((StatusCode::UNAUTHORIZED, page).into_response())
        }
    }
}

pub async fn signout(
    State(state): State<AppState>,
    cookies: Cookies,
    SignedIn(user): SignedIn,
) -> Result<Redirect, AppError> {
    end_session(&state, &cookies, &user).await?;
    tracing::info!(event = "auth.signout", user_id = %user.id, session_id = %user.session_id, "signed out");
    Ok(Redirect::to("/signin"))
}
