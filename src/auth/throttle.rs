//! Throttling of guessable actions: failed sign-ins per account and per IP,
//! sign-ups and reset requests per IP. Counters live in the database so the
//! limits hold across instances; each bucket counts events over a sliding
//! window.

use sha2::{Digest, Sha256};

use crate::{
    app::AppState,
    config::Limit,
    db::{self, security},
    error::AppError,
};

/// A bucket name. Emails are hashed so the table holds no addresses.
pub fn account_bucket(email: &str) -> String {
    let digest: String =
        Sha256::digest(email.trim().to_lowercase().as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    format!("signin-account:{digest}")
}

pub fn ip_bucket(action: &str, ip: Option<&str>) -> String {
    format!("{action}-ip:{}", ip.unwrap_or("unknown"))
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
