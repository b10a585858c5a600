//! Throttling of guessable actions: failed sign-ins per account and per IP,
//! sign-ups and reset requests per IP. Counters live in the database so the
//! limits hold across instances; each bucket counts events over a sliding
//! window.

use std::net::{IpAddr, Ipv6Addr};

use sha2::{Digest, Sha256};

use crate::{
    app::AppState,
    config::Limit,
    db::{self, security},
    error::AppError,
};

/// Failed sign-ins of one account. Emails are hashed so the table holds no
/// addresses.
pub fn account_bucket(email: &str) -> String {
    email_bucket("signin-account", email)
}

/// Mail sent to one address on someone else's request (sign-up by mail).
pub fn recipient_bucket(email: &str) -> String {
    email_bucket("signup-mail", email)
}

fn email_bucket(action: &str, email: &str) -> String {
    let digest: String =
        Sha256::digest(email.trim().to_lowercase().as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    format!("{action}:{digest}")
}

/// One client address's bucket. An IPv6 client usually holds a whole /64,
/// so its prefix counts as one address (else it would have 2^64 buckets).
pub fn ip_bucket(action: &str, ip: Option<&str>) -> String {
    let client = match ip.map(str::parse::<IpAddr>) {
        Some(Ok(IpAddr::V6(v6))) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => format!("{}/64", Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
        _ => ip.unwrap_or("unknown").to_owned(),
    };
    format!("{action}-ip:{client}")
}

/// `Some(seconds until a slot frees)` when `bucket` is at its limit.
pub async fn check(state: &AppState, bucket: &str, limit: Limit) -> Result<Option<u64>, AppError> {
    let window = time::Duration::seconds(limit.window.as_secs() as i64);
    let now = db::now();
    let (count, oldest) = security::throttle_count(&state.db, bucket, now - window).await?;
    if count < i64::from(limit.count) {
        return Ok(None);
    }
    let frees_at = oldest.unwrap_or(now) + window;
    Ok(Some((frees_at - now).whole_seconds().max(1) as u64))
}

/// An attempt that counts whatever its outcome (sign-ups, reset requests):
/// `Some(seconds to wait)` when `bucket` is at its limit, else it is counted.
pub async fn attempt(state: &AppState, bucket: &str, limit: Limit) -> Result<Option<u64>, AppError> {
    if let Some(wait) = check(state, bucket, limit).await? {
        return Ok(Some(wait));
    }
    hit(state, bucket).await?;
    Ok(None)
}

/// Counts one event against `bucket`.
pub async fn hit(state: &AppState, bucket: &str) -> Result<(), AppError> {
    Ok(security::throttle_add(&state.db, bucket).await?)
}

/// The first of `buckets` that is over its limit, as seconds to wait.
pub async fn check_all(state: &AppState, buckets: &[(&str, Limit)]) -> Result<Option<u64>, AppError> {
    let mut wait = None;
    for (bucket, limit) in buckets {
        if let Some(seconds) = check(state, bucket, *limit).await? {
            wait = Some(wait.map_or(seconds, |w: u64| w.max(seconds)));
        }
    }
    Ok(wait)
}

#[cfg(test)]
mod tests {
    use super::ip_bucket;

    #[test]
    fn an_ipv6_client_counts_by_its_64_prefix() {
        let a = ip_bucket("signup", Some("2001:db8:1:2:aaaa::1"));
        assert_eq!(a, "signup-ip:2001:db8:1:2::/64");
        assert_eq!(a, ip_bucket("signup", Some("2001:db8:1:2:ffff:ffff:ffff:ffff")));
        assert_ne!(a, ip_bucket("signup", Some("2001:db8:1:3::1")));
        assert_eq!(ip_bucket("signup", Some("203.0.113.9")), "signup-ip:203.0.113.9");
        assert_eq!(ip_bucket("signup", Some("::ffff:203.0.113.9")), "signup-ip:203.0.113.9");
        assert_eq!(ip_bucket("signup", None), "signup-ip:unknown");
    }
}
