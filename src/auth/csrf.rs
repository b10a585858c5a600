//! Cross-site request forgery defence for the browser pages.
//!
//! Every state-changing request must carry a token — the `csrf_token` form
//! field or the `X-CSRF-Token` header (htmx) — that is an HMAC of this
//! browser's session id (before sign-in: of a random pre-session cookie), and
//! must not come from a foreign `Origin`. Otherwise: 403, nothing changes.

use axum::{
    body::{Body, to_bytes},
    extract::{Request, State},
    http::{HeaderMap, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tower_cookies::Cookies;
use uuid::Uuid;

use super::session::Resolved;
use crate::{app::AppState, error::AppError};

pub const CSRF_COOKIE: &str = "doable_csrf";
pub const CSRF_FIELD: &str = "csrf_token";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The largest form body we read to find the token (a 10,000-character
/// description, percent-encoded, fits with room to spare).
pub const MAX_FORM_BYTES: usize = 256 * 1024;

/// Runs after `resolve_session`: it needs to know the session.
pub async fn protect(State(state): State<AppState>, cookies: Cookies, request: Request, next: Next) -> Response {
    if !request.method().is_safe() {
        // Bound to the session the request claims, checked or not: a token
        // is worth nothing without the session cookie it was minted for,
        // and the handler checks that session before anything happens.
        let session = request.extensions().get::<Resolved>().and_then(Resolved::session_id);
        let anchor = anchor(&state, &cookies, session);
        if !origin_allowed(request.headers(), &state.config.allowed_origins) {
            tracing::warn!(event = "csrf.foreign_origin", "state-changing request from a foreign origin refused");
            return AppError::Forbidden.into_response();
        }
        let (presented, rebuilt) = match presented_token(request).await {
            Ok(found) => found,
            Err(response) => return response,
        };
        if !presented.is_some_and(|token| state.keys.csrf_matches(&anchor, &token)) {
            tracing::warn!(event = "csrf.bad_token", "state-changing request without a valid CSRF token refused");
            return AppError::Forbidden.into_response();
        }
        return next.run(rebuilt).await;
    }
    next.run(request).await
}

/// The token for the forms of a page shown to the holder of `session` (a
/// checked one), or to a browser that has not signed in.
pub fn page_token(state: &AppState, cookies: &Cookies, session: Option<Uuid>) -> String {
    state.keys.csrf_token(&anchor(state, cookies, session))
}

fn anchor(state: &AppState, cookies: &Cookies, session: Option<Uuid>) -> String {
    match session {
        Some(session_id) => format!("session:{session_id}"),
        None => format!("browser:{}", browser_id(cookies, state)),
    }
}

/// The random id of a browser that has not signed in, kept in a cookie.
fn browser_id(cookies: &Cookies, state: &AppState) -> String {
    if let Some(existing) = cookies.get(CSRF_COOKIE) {
        return existing.value().to_owned();
    }
    let id = super::tokens::random_token();
    cookies.add(super::cookies::cookie(&state.config, CSRF_COOKIE, id.clone()).build());
    id
}

/// A request with an `Origin` must come from one of ours. Without one (old
/// browsers, scripts) we fall back on `Sec-Fetch-Site`; the token is
/// required either way.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default().to_ascii_lowercase();
        return allowed.contains(&origin);
    }
    headers.get("sec-fetch-site").is_none_or(|site| site != "cross-site")
}

/// The token from the header, or else from the url-encoded form body (which
/// is read and put back for the handler).
async fn presented_token(request: Request) -> Result<(Option<String>, Request), Response> {
    if let Some(token) = request.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        let token = token.to_owned();
        return Ok((Some(token), request));
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((None, request));
    }
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| AppError::PayloadTooLarge.into_response())?;
    let token = form_urlencoded_value(&bytes, CSRF_FIELD);
    Ok((token, Request::from_parts(parts, Body::from(bytes))))
}

fn form_urlencoded_value(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find_map(|(key, value)| (key == name).then_some(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn foreign_and_null_origins_are_refused() {
        let allowed = vec!["http://127.0.0.1:3000".to_string()];
        let with = |name: &'static str, value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(name, HeaderValue::from_static(value));
            headers
        };
        assert!(origin_allowed(&with("origin", "http://127.0.0.1:3000"), &allowed));
        assert!(!origin_allowed(&with("origin", "https://evil.example"), &allowed));
        assert!(!origin_allowed(&with("origin", "null"), &allowed));
        assert!(!origin_allowed(&with("sec-fetch-site", "cross-site"), &allowed));
        assert!(origin_allowed(&HeaderMap::new(), &allowed));
    }

    #[test]
    fn the_token_is_found_among_form_fields() {
        assert_eq!(form_urlencoded_value(b"title=a&csrf_token=xyz", "csrf_token").as_deref(), Some("xyz"));
        assert_eq!(form_urlencoded_value(b"title=a", "csrf_token"), None);
    }
}
