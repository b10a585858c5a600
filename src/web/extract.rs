//! What page handlers take from a request.
//!
//! * [`PageRequest`] / [`UserRequest`]: everything a page handler needs at
//!   once (the app, the [`Layout`] its template receives, whether htmx
//!   asked for a fragment, the cookie jar, the client); a [`UserRequest`]
//!   sends a visitor who is not signed in to sign in first.
//! * [`Form`] and [`Query`]: `axum::Form` and `axum::extract::Query`, but an
//!   unreadable form or query string is our friendly 400 page rather than
//!   axum's plain-text rejection.

use axum::{
    extract::{FromRequest, FromRequestParts},
    http::{HeaderMap, HeaderValue, Method, StatusCode, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use tower_cookies::Cookies;

use super::flash::{Flash, Notice};
use crate::{
    app::AppState,
    auth::{ClientInfo, CurrentUser, csrf::CsrfToken, resolved_user},
    db::UserDb,
    error::AppError,
};

#[derive(FromRequest)]
#[from_request(via(axum::Form), rejection(AppError))]
pub struct Form<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

/// What every page template receives, as `layout`: who is signed in (the
/// navigation shows them), the CSRF token its forms carry, and the message
/// to show after an action, if any.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub user: Option<CurrentUser>,
    pub csrf: String,
    /// What to tell the user on this page: the flash a plain form post left
    /// for the page it redirected to ([`UserRequest::take_flash`]), what an
    /// htmx action did, or a notice the page itself gives.
    pub flash: Option<Notice>,
}

impl Layout {
    /// The signed-in user's email; empty for a visitor.
    pub fn email(&self) -> &str {
        self.user.as_ref().map_or("", |user| user.email.as_str())
    }
}

/// A page request from anyone, signed in or not.
pub struct PageRequest {
    pub state: AppState,
    pub layout: Layout,
    /// htmx asked for a fragment to swap in (not when it restores history:
    /// that wants the whole page).
    pub htmx: bool,
    pub cookies: Cookies,
    pub client: ClientInfo,
}

impl FromRequestParts<AppState> for PageRequest {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let user = resolved_user(parts).map_err(IntoResponse::into_response)?;
        let CsrfToken(csrf) = CsrfToken::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let cookies = Cookies::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let Ok(client) = ClientInfo::from_request_parts(parts, state).await;
        let htmx = is_htmx(&parts.headers) && parts.headers.get("hx-history-restore-request").is_none();
        let layout = Layout { user, csrf, flash: None };
        Ok(PageRequest { state: state.clone(), layout, htmx, cookies, client })
    }
}

/// A page request from a signed-in user; anyone else is sent to sign in.
pub struct UserRequest {
    pub user: CurrentUser,
    pub state: AppState,
    pub layout: Layout,
    pub htmx: bool,
    pub cookies: Cookies,
    pub client: ClientInfo,
}

impl UserRequest {
    /// The signed-in user's rows.
    pub fn db(&self) -> UserDb<'_> {
        self.state.db.for_user(self.user.id)
    }

    /// Puts the flash a redirect left into the layout, and spends it: for the
    /// page that shows it (the task list), so no other page swallows it.
    pub async fn take_flash(&mut self) -> Result<(), AppError> {
        let flash = Flash::take(&self.cookies, &self.state, self.user.id).await?;
        self.layout.flash = flash.as_ref().map(Flash::notice);
        Ok(())
    }
}

impl FromRequestParts<AppState> for UserRequest {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let PageRequest { state, layout, htmx, cookies, client } =
            PageRequest::from_request_parts(parts, state).await?;
        match layout.user.clone() {
            Some(user) => Ok(UserRequest { user, state, layout, htmx, cookies, client }),
            None => Err(sign_in_first(parts)),
        }
    }
}

pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some_and(|v| v == "true")
}

/// 303 to the sign-in page, coming back here afterwards; htmx gets 401 with
/// `HX-Redirect` so it navigates instead of swapping a sign-in page into a list.
fn sign_in_first(parts: &Parts) -> Response {
    let back = if is_htmx(&parts.headers) {
        // Not the fragment's URL: the page the user is looking at.
        parts
            .headers
            .get("hx-current-url")
            .and_then(|v| v.to_str().ok())
            .and_then(|url| url.split_once("://"))
            .and_then(|(_, rest)| rest.find('/').map(|at| &rest[at..]))
            .unwrap_or("/tasks")
    } else if parts.method == Method::GET {
        parts.uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/tasks")
    } else {
        "/tasks"
    };
    let target = format!("/signin?{}", serde_urlencoded::to_string([("next", back)]).unwrap_or_default());
    if is_htmx(&parts.headers) {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        if let Ok(value) = HeaderValue::from_str(&target) {
            response.headers_mut().insert("hx-redirect", value);
        }
        response
    } else {
        Redirect::to(&target).into_response()
    }
}
