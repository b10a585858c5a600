//! The one cookie policy (`HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure`
//! in production) and the session's two cookies.

use tower_cookies::{
    Cookie, Cookies,
    cookie::{CookieBuilder, SameSite},
};

use crate::config::Config;

/// The short-lived JWT.
pub const ACCESS_COOKIE: &str = "doable_access";
/// The opaque refresh token that renews it.
pub const REFRESH_COOKIE: &str = "doable_refresh";

/// Every cookie doable sets: script cannot read it, other sites' requests do
/// not carry it on POSTs, and in production it travels over HTTPS only.
pub fn cookie(config: &Config, name: &'static str, value: String) -> CookieBuilder<'static> {
    Cookie::build((name, value)).http_only(true).same_site(SameSite::Lax).path("/").secure(config.secure_cookies())
}

fn session_cookie(config: &Config, name: &'static str, value: String, max_age: std::time::Duration) -> Cookie<'static> {
    cookie(config, name, value).max_age(time::Duration::seconds(max_age.as_secs() as i64)).build()
}

pub(super) fn set_session_cookies(cookies: &Cookies, config: &Config, access: String, refresh: Option<String>) {
    cookies.add(session_cookie(config, ACCESS_COOKIE, access, config.access_token_ttl));
    if let Some(refresh) = refresh {
        cookies.add(session_cookie(config, REFRESH_COOKIE, refresh, config.refresh_token_ttl));
    }
}

pub fn clear_session_cookies(cookies: &Cookies, config: &Config) {
    for name in [ACCESS_COOKIE, REFRESH_COOKIE] {
        if cookies.get(name).is_some() {
            cookies.remove(session_cookie(config, name, String::new(), std::time::Duration::ZERO));
        }
    }
}
