//! Sign-up, sign-in and sign-out pages.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    extract::{Form, Layout, PageRequest, Query, UserRequest},
    flash::Notice,
};
use crate::{
    account::{self, Confirmation, SignIn, SignUp, SignUpError},
    auth::{clear_session_cookies, start_session},
    error::AppError,
};

/// One message for every failed sign-in, so it tells nobody whether the
/// email has an account.
const SIGNIN_FAILED: &str = "That email and password do not match an account.";
const SIGNIN_THROTTLED: &str = "Too many failed attempts. Wait a few minutes and try again, or reset your password.";

#[derive(Template, WebTemplate, Default)]
#[template(path = "auth/signup.html")]
pub struct SignupPage {
    layout: Layout,
    email: String,
    name: String,
    email_error: Option<&'static str>,
    name_error: Option<&'static str>,
    password_error: Option<&'static str>,
}

#[derive(Template, WebTemplate, Default)]
#[template(path = "auth/signin.html")]
pub struct SigninPage {
    layout: Layout,
    email: String,
    next: String,
    error: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    notice: Option<String>,
}

pub async fn signup_page(page: PageRequest) -> Response {
    if page.layout.user.is_some() {
        return Redirect::to("/tasks").into_response();
    }
    SignupPage { layout: page.layout, ..Default::default() }.into_response()
}

#[derive(Deserialize)]
pub struct SignupForm {
    email: Option<String>,
    password: Option<String>,
    name: Option<String>,
}

pub async fn signup(page: PageRequest, Form(form): Form<SignupForm>) -> Result<Response, AppError> {
    let PageRequest { state, layout, cookies, client, .. } = page;
    let email = form.email.unwrap_or_default();
    let name = form.name.unwrap_or_default();
    let password = form.password.as_deref().unwrap_or_default();
    let outcome = account::sign_up(&state, &email, password, Some(&name), &client).await;
    let previous = layout.user.clone();
    let mut page = SignupPage { layout, email: email.trim().to_owned(), name, ..Default::default() };
    match outcome {
        Ok(SignUp::Created(user)) => {
            start_session(&state, &cookies, user.id, &client, previous.as_ref()).await?;
            Ok(Redirect::to("/tasks").into_response())
        }
        Ok(SignUp::MailSent) => Ok(Redirect::to("/signup/sent").into_response()),
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
pub struct SignupSentPage {
    layout: Layout,
}

pub async fn signup_sent_page(page: PageRequest) -> SignupSentPage {
    SignupSentPage { layout: page.layout }
}

/// Where a confirmation link leads: the password chosen at sign-up and a
/// button that creates the account (a POST, so a mail scanner fetching the
/// link creates nothing).
#[derive(Template, WebTemplate, Default)]
#[template(path = "auth/signup_confirm.html")]
pub struct ConfirmPage {
    layout: Layout,
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

pub async fn confirm_page(page: PageRequest, Query(query): Query<ConfirmQuery>) -> Result<Response, AppError> {
    let token = query.token.unwrap_or_default();
    let email = account::email_awaiting_confirmation(&page.state, &token).await?;
    let status = if email.is_some() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    Ok((status, ConfirmPage { layout: page.layout, token, email, ..Default::default() }).into_response())
}

pub async fn confirm(page: PageRequest, Form(form): Form<ConfirmForm>) -> Result<Response, AppError> {
    let PageRequest { state, layout, cookies, client, .. } = page;
    let token = form.token.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    let previous = layout.user.clone();
    let page = ConfirmPage { layout, ..Default::default() };
    match account::confirm_sign_up(&state, &token, &password, &client).await? {
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

pub async fn signin_page(page: PageRequest, Query(query): Query<NextQuery>) -> Response {
    let next = safe_next(query.next.as_deref()).to_owned();
    if page.layout.user.is_some() {
        return Redirect::to(&next).into_response();
    }
    let mut layout = page.layout;
    layout.flash = match query.notice.as_deref() {
        Some("reset") => Some(Notice::say("Your password was changed. Sign in with the new one.")),
        Some("deleted") => Some(Notice::say("Your account and everything in it were deleted.")),
        _ => None,
    };
    SigninPage { layout, next, ..Default::default() }.into_response()
}

#[derive(Deserialize)]
pub struct SigninForm {
    email: Option<String>,
    password: Option<String>,
    next: Option<String>,
}

pub async fn signin(page: PageRequest, Form(form): Form<SigninForm>) -> Result<Response, AppError> {
    let PageRequest { state, layout, cookies, client, .. } = page;
    let email = form.email.unwrap_or_default();
    let next = safe_next(form.next.as_deref()).to_owned();
    let email_kept = email.trim().to_owned();
    match account::sign_in(&state, &email, form.password.as_deref().unwrap_or_default(), &client).await? {
        SignIn::Success(user_id) => {
            start_session(&state, &cookies, user_id, &client, layout.user.as_ref()).await?;
            Ok(Redirect::to(&next).into_response())
        }
        SignIn::Failed => {
            let page = SigninPage { layout, email: email_kept, next, error: Some(SIGNIN_FAILED) };
            Ok((StatusCode::UNAUTHORIZED, page).into_response())
        }
        SignIn::Throttled(wait) => {
            let page = SigninPage { layout, email: email_kept, next, error: Some(SIGNIN_THROTTLED) };
            let mut response = (StatusCode::TOO_MANY_REQUESTS, page).into_response();
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, wait.into());
            Ok(response)
        }
    }
}

pub async fn signout(request: UserRequest) -> Result<Redirect, AppError> {
    let UserRequest { user, state, cookies, client, .. } = request;
    // Cleared first: whatever happens next, this browser is signed out.
    clear_session_cookies(&cookies, &state.config);
    account::sign_out(&state, &user, &client).await?;
    Ok(Redirect::to("/signin"))
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
