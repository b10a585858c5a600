//! "Forgot password" and the page its link leads to. The rules (the same
//! answer for every email, in the same time; single-use links) are in
//! `crate::account`.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::extract::{Form, Layout, PageRequest, Query};
use crate::{
    account::{self, Refused, Reset},
    error::AppError,
};

#[derive(Template, WebTemplate, Default)]
#[template(path = "auth/forgot.html")]
pub struct ForgotPage {
    layout: Layout,
    sent: bool,
}

#[derive(Template, WebTemplate, Default)]
#[template(path = "auth/reset.html")]
pub struct ResetPage {
    layout: Layout,
    token: String,
    /// False: the link is expired, used or unknown.
    valid: bool,
    password_error: Option<&'static str>,
}

pub async fn forgot_page(page: PageRequest) -> ForgotPage {
    ForgotPage { layout: page.layout, sent: false }
}

#[derive(Deserialize)]
pub struct ForgotForm {
    email: Option<String>,
}

pub async fn forgot(page: PageRequest, Form(form): Form<ForgotForm>) -> Result<Response, AppError> {
    account::request_reset(&page.state, form.email.as_deref().unwrap_or_default(), &page.client).await?;
    Ok(ForgotPage { layout: page.layout, sent: true }.into_response())
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

pub async fn reset_page(page: PageRequest, Query(query): Query<TokenQuery>) -> Result<Response, AppError> {
    let token = query.token.unwrap_or_default();
    let valid = account::reset_link_works(&page.state, &token).await?;
    let status = if valid { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    Ok((status, ResetPage { layout: page.layout, token, valid, password_error: None }).into_response())
}

#[derive(Deserialize)]
pub struct ResetForm {
    token: Option<String>,
    password: Option<String>,
}

pub async fn reset(page: PageRequest, Form(form): Form<ResetForm>) -> Result<Response, AppError> {
    let token = form.token.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    let layout = page.layout;
    Ok(match account::reset_password(&page.state, &token, &password, &page.client).await? {
        Reset::Done => Redirect::to("/signin?notice=reset").into_response(),
        Reset::LinkDead => {
            (StatusCode::BAD_REQUEST, ResetPage { layout, token, valid: false, password_error: None }).into_response()
        }
        Reset::Refused(Refused(message)) => {
            let page = ResetPage { layout, token, valid: true, password_error: Some(message) };
            (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
        }
    })
}
