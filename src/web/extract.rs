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
    auth::{Claim, ClientInfo, CurrentUser, clear_session_cookies, csrf, resolved_claim, resolved_user},
    db::{UserDb, sessions::SessionUser},
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
        let htmx = is_htmx(&parts.headers) && parts.headers.get("hx-history-restore-request").is_none();
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

/// A page request from a signed-in user whose session the handler's own
/// first statement checks (the task list: see [`Claim`]); anyone without
/// even a claim is sent to sign in.
pub struct ClaimedRequest {
    pub claim: Claim,
    /// The request as the signed-in user's, but for the user and the CSRF
    /// token, which wait for the check.
    page: PageRequest,
    sign_in: SignInFirst,
}

impl ClaimedRequest {
    /// The claimed user's rows, for a statement that checks the claim.
    pub fn db(&self) -> UserDb<'_> {
        self.page.state.db.for_user(self.claim.user_id)
    }

    /// The request of `user`, the claim's owner, found live.
    pub fn signed_in(self, user: SessionUser) -> UserRequest {
        let user = CurrentUser::of(self.claim, user);
        let PageRequest { state, mut layout, htmx, cookies, client } = self.page;
        layout.csrf = csrf::page_token(&state, &cookies, Some(user.session_id));
        layout.user = Some(user.clone());
        UserRequest { user, state, layout, htmx, cookies, client }
    }

    /// The claim's session is revoked or its account deactivated: its
    /// cookies go, and the visitor is sent to sign in.
    pub fn refused(self) -> Response {
        clear_session_cookies(&self.page.cookies, &self.page.state.config);
        self.sign_in.response()
    }
}

impl FromRequestParts<AppState> for ClaimedRequest {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let sign_in = SignInFirst::from(parts);
        let Some(claim) = resolved_claim(parts).map_err(IntoResponse::into_response)? else {
            return Err(sign_in.response());
        };
        let cookies = Cookies::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let client = ClientInfo::from_parts(parts, state);
        let htmx = is_htmx(&parts.headers) && parts.headers.get("hx-history-restore-request").is_none();
        let page = PageRequest { state: state.clone(), layout: Layout::default(), htmx, cookies, client };
        Ok(ClaimedRequest { claim, page, sign_in })
    }
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
    fn from(parts: &Parts) -> Self {
        let htmx = is_htmx(&parts.headers);
        let back = if htmx {
            // Not the fragment's URL: the page the user is looking at.
            parts
                .headers
                .get("hx-current-url")
                .and_then(|v| v.to_str().ok())
                .and_then(|url| url.split_once("://"))
                .and_then(|(_, rest)| rest.find('/').map(|at| rest[at..].to_owned()))
        } else if parts.method == Method::GET {
            parts.uri.path_and_query().map(|pq| pq.as_str().to_owned())
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
        if self.htmx {
            let mut response = StatusCode::UNAUTHORIZED.into_response();
            if let Ok(value) = HeaderValue::from_str(&target) {
                response.headers_mut().insert("hx-redirect", value);
            }
            response
        } else {
            Redirect::to(&target).into_response()
        }
    }
}

fn sign_in_first(parts: &Parts) -> Response {
    SignInFirst::from(parts).response()
}
