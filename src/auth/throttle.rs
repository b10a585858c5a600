//! Throttling of guessable actions: failed sign-ins per account and per IP,
//! sign-ups and reset requests per IP. Counters live in the database so the
//! limits hold across instances; each bucket counts events over a sliding
//! window.

use std::net::{IpAddr, Ipv6Addr};

use crate::{
    app::AppState,
    config::Limit,
    db::{self, throttle as db_throttle},
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

/// "Sign-in blocked" recorded for one account, once per window.
pub fn blocked_bucket(email: &str) -> String {
    email_bucket("signin-blocked", email)
}

/// Password-reset mail sent to one address.
pub fn reset_mail_bucket(email: &str) -> String {
    email_bucket("reset-mail", email)
}

fn email_bucket(action: &str, email: &str) -> String {
    let digest = crate::digest::sha256_hex(email.trim().to_lowercase().as_bytes());
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

/// An attempt that was counted before its work was done; [`Counted::refund`]
/// takes it back when it should not count after all (a sign-in that
/// succeeded).
#[derive(Debug)]
#[must_use]
pub struct Counted(Vec<i64>);

impl Counted {
    pub async fn refund(self, state: &AppState) -> Result<(), AppError> {
        Ok(db_throttle::refund(&state.db, &self.0).await?)
    }
}

/// Counts one attempt against every bucket, before the work it guards, if
/// each is under its limit: `Err(seconds to wait)` when one is full, and
/// then nothing is counted. Atomic (one statement, see
/// [`db_throttle::take`]), so of many attempts at once at most the
/// limit get through, on every instance together. It reads only the
/// counters: a throttled answer costs the same whoever it names.
pub async fn take(state: &AppState, buckets: &[(&str, Limit)]) -> Result<Result<Counted, u64>, AppError> {
    let now = db::now();
    let since = |limit: &Limit| now - time::Duration::seconds(limit.window.as_secs() as i64);
    let rows: Vec<db_throttle::Bucket<'_>> = buckets
        .iter()
        .map(|(name, limit)| db_throttle::Bucket { name, limit: i64::from(limit.count), since: since(limit) })
        .collect();
    if let Some(ids) = db_throttle::take(&state.db, &rows).await? {
        return Ok(Ok(Counted(ids)));
    }
    // Full: wait until the fullest bucket's oldest event leaves its window.
    let mut wait = 1;
    for (name, limit) in buckets {
        let (count, oldest) = db_throttle::count(&state.db, name, since(limit)).await?;
        if count >= i64::from(limit.count) {
            let frees_at = oldest.unwrap_or(now) + time::Duration::seconds(limit.window.as_secs() as i64);
            wait = wait.max((frees_at - now).whole_seconds().max(1) as u64);
        }
    }
    Ok(Err(wait))
}

/// [`take`] for one bucket whose attempts all count (sign-ups, reset
/// requests, mails to one address): `Some(seconds to wait)` when full.
pub async fn attempt(state: &AppState, bucket: &str, limit: Limit) -> Result<Option<u64>, AppError> {
    Ok(take(state, &[(bucket, limit)]).await?.err())
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
