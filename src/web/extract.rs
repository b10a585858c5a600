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
    extract::{FromRequest, FromRequestParts, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, request::Parts},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use tower_cookies::Cookies;

use super::flash::{Flash, Notice};
use crate::{
    app::AppState,
    auth::{Claim, ClientInfo, CurrentUser, check, clear_session_cookies, csrf, resolved_claim, resolved_user},
    db::{
        UserDb,
        tasks::{self, ListQuery, Overview, TaskPage},
    },
    error::{AppError, SessionEnded},
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
        let cookies = Cookies::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let user = resolved_user(parts, state, &cookies).await.map_err(IntoResponse::into_response)?;
        Ok(PageRequest::with(parts, state, cookies, user))
    }
}

impl PageRequest {
    /// For `user`, checked: the page's forms are bound to that session, or,
    /// for a visitor (including one whose session just turned out dead), to
    /// this browser.
    fn with(parts: &Parts, state: &AppState, cookies: Cookies, user: Option<CurrentUser>) -> Self {
        let csrf = csrf::page_token(state, &cookies, user.as_ref().map(|u| u.session_id));
        let client = ClientInfo::from_parts(parts, state);
        let htmx = wants_fragment(&parts.headers);
        let layout = Layout { user, csrf, flash: None };
        PageRequest { state: state.clone(), layout, htmx, cookies, client }
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

/// A page request from a signed-in user whose session is checked by the
/// handler's own statements, not by a transaction of its own: everything
/// through [`ClaimedRequest::db`] first finds the session live, in the same
/// transaction (`db::UserDb::for_session`), and a session found ended sends
/// the browser to sign in ([`sign_in_when_the_session_ends`]). Anyone without
/// even a claim is sent to sign in at once.
pub struct ClaimedRequest {
    pub claim: Claim,
    /// The request as the signed-in user's, but for the user and the CSRF
    /// token, which wait for the check.
    page: PageRequest,
}

impl ClaimedRequest {
    /// The claimed user's rows, each statement on them checked first.
    pub fn db(&self) -> UserDb<'_> {
        self.claim.rows(&self.page.state.db)
    }

    pub fn state(&self) -> &AppState {
        &self.page.state
    }

    pub fn cookies(&self) -> &Cookies {
        &self.page.cookies
    }

    pub fn htmx(&self) -> bool {
        self.page.htmx
    }

    /// The task list `query` and the request as its user's, in the one
    /// statement that checks the session and reads the list.
    pub async fn list(
        self,
        query: &ListQuery<'_>,
        with_counts: bool,
    ) -> Result<(UserRequest, TaskPage, Overview), AppError> {
        let (user, page, overview) = tasks::list_checked(self.db(), query, with_counts).await?;
        let user = CurrentUser::of(self.claim, user);
        Ok((self.signed_in(user), page, overview))
    }

    /// The request as its user's, the session checked on its own: for the
    /// rare page that needs the user without reading the list (a form sent
    /// back with errors).
    pub async fn checked(self) -> Result<UserRequest, AppError> {
        let user = check(&self.page.state, self.claim).await?.ok_or(AppError::SessionEnded)?;
        Ok(self.signed_in(user))
    }

    fn signed_in(self, user: CurrentUser) -> UserRequest {
        let PageRequest { state, mut layout, htmx, cookies, client } = self.page;
        layout.csrf = csrf::page_token(&state, &cookies, Some(user.session_id));
        layout.user = Some(user.clone());
        UserRequest { user, state, layout, htmx, cookies, client }
    }
}

impl FromRequestParts<AppState> for ClaimedRequest {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(claim) = resolved_claim(parts).map_err(IntoResponse::into_response)? else {
            return Err(sign_in_first(parts));
        };
        let cookies = Cookies::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let client = ClientInfo::from_parts(parts, state);
        let htmx = wants_fragment(&parts.headers);
        let page = PageRequest { state: state.clone(), layout: Layout::default(), htmx, cookies, client };
        Ok(ClaimedRequest { claim, page })
    }
}

/// Page layer: a handler that found the request's session ended
/// ([`AppError::SessionEnded`], from a statement that checked it) sends the
/// browser to sign in again, its dead session's cookies cleared.
pub async fn sign_in_when_the_session_ends(
    State(state): State<AppState>,
    cookies: Cookies,
    request: Request,
    next: Next,
) -> Response {
    let sign_in = SignInFirst::of(request.headers(), request.method(), request.uri());
    let response = next.run(request).await;
    if response.extensions().get::<SessionEnded>().is_none() {
        return response;
    }
    clear_session_cookies(&cookies, &state.config);
    sign_in.response()
}

/// htmx asked for a fragment to swap in (not when it restores history:
/// that wants the whole page).
fn wants_fragment(headers: &HeaderMap) -> bool {
    is_htmx(headers) && headers.get("hx-history-restore-request").is_none()
}

/// A row id from the path; one that cannot be an id is simply not found.
pub fn path_id(raw: &str) -> Result<i64, AppError> {
    crate::domain::parse_id(raw).ok_or(AppError::NotFound)
}

pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some_and(|v| v == "true")
}

/// Where to send a visitor who must sign in first, and how.
struct SignInFirst {
    htmx: bool,
    /// The path to come back to afterwards.
    back: Option<String>,
}

impl SignInFirst {
    fn of(headers: &HeaderMap, method: &Method, uri: &Uri) -> Self {
        let htmx = is_htmx(headers);
        let back = if htmx {
            // Not the fragment's URL: the page the user is looking at.
            headers
                .get("hx-current-url")
                .and_then(|v| v.to_str().ok())
                .and_then(|url| url.split_once("://"))
                .and_then(|(_, rest)| rest.find('/').map(|at| rest[at..].to_owned()))
        } else if method == Method::GET {
            uri.path_and_query().map(|pq| pq.as_str().to_owned())
        } else {
            None
        };
        SignInFirst { htmx, back }
    }

    /// 303 to the sign-in page, coming back here afterwards; htmx gets 401
    /// with `HX-Redirect` so it navigates instead of swapping a sign-in page
    /// into a list.
    fn response(&self) -> Response {
        let back = self.back.as_deref().unwrap_or("/tasks");
        let target = format!("/signin?{}", serde_urlencoded::to_string([("next", back)]).unwrap_or_default());
        navigate(self.htmx, StatusCode::UNAUTHORIZED, &target)
    }
}

/// Sends the browser to `target` as a page of its own: a 303, or for htmx
/// (which would swap a redirect's page into the list) `htmx_status` with
/// `HX-Redirect`, which makes it navigate.
pub fn navigate(htmx: bool, htmx_status: StatusCode, target: &str) -> Response {
    if !htmx {
        return Redirect::to(target).into_response();
    }
    let mut response = htmx_status.into_response();
    if let Ok(value) = HeaderValue::from_str(target) {
        response.headers_mut().insert("hx-redirect", value);
    }
    response
}

fn sign_in_first(parts: &Parts) -> Response {
    SignInFirst::of(&parts.headers, &parts.method, &parts.uri).response()
}
