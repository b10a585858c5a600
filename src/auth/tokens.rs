//! Signed access tokens (JWT, HS256 only), opaque refresh tokens, and the
//! CSRF tokens derived from the same key.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;
use uuid::Uuid;

use crate::config::Secret;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    /// The session id: checked against the sessions table on every request.
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
}

pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    csrf_mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys([redacted])")
    }
}

impl Keys {
    pub fn new(secret: &Secret) -> Self {
        // Pinned to HS256: a token that names any other algorithm, `none`
        // included, fails validation.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        // The CSRF key is derived, so one secret serves both purposes
        // without one token being usable as the other.
        let csrf_key = Sha256::new().chain_update(b"doable csrf v1\0").chain_update(secret.expose()).finalize();
        let csrf_mac = Hmac::<Sha256>::new_from_slice(&csrf_key).expect("HMAC accepts keys of any length");
        Keys {
            encoding: EncodingKey::from_secret(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
            validation,
            csrf_mac,
        }
    }

    pub fn issue_access(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        ttl: Duration,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims { sub: user_id, sid: session_id, iat: now, exp: now + ttl.as_secs() as i64 };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The claims of a genuine, unexpired token; `None` for anything else.
    pub fn verify_access(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok().map(|data| data.claims)
    }

    fn csrf_mac(&self, anchor: &str) -> Hmac<Sha256> {
        let mut mac = self.csrf_mac.clone();
        mac.update(anchor.as_bytes());
        mac
    }

    /// The CSRF token for a browser: bound to its session (or, before sign-in,
    /// to its pre-session cookie), so another browser's token is worthless.
    ///
    /// Masked afresh on every call — `pad ‖ (pad XOR mac)` with a random pad,
    /// as Rails and Django do — so no two pages carry the same string and a
    /// compressed page that also echoes user input (BREACH) leaks nothing
    /// about the token: there is no fixed secret to guess byte by byte.
    pub fn csrf_token(&self, anchor: &str) -> String {
        let mac = self.csrf_mac(anchor).finalize().into_bytes();
        let mut pad = [0u8; CSRF_MAC_LEN];
        getrandom::fill(&mut pad).expect("the operating system's random source failed");
        let mut masked = Vec::with_capacity(2 * CSRF_MAC_LEN);
        masked.extend_from_slice(&pad);
        masked.extend(pad.iter().zip(mac.iter()).map(|(p, m)| p ^ m));
        URL_SAFE_NO_PAD.encode(masked)
    }

    /// Constant-time check of a presented (masked) CSRF token.
    pub fn csrf_matches(&self, anchor: &str, presented: &str) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(presented) else { return false };
        if bytes.len() != 2 * CSRF_MAC_LEN {
            return false;
        }
        let (pad, masked) = bytes.split_at(CSRF_MAC_LEN);
        let mac: Vec<u8> = pad.iter().zip(masked).map(|(p, m)| p ^ m).collect();
        self.csrf_mac(anchor).verify_slice(&mac).is_ok()
    }
}

/// HMAC-SHA256 output length: the unmasked CSRF token.
const CSRF_MAC_LEN: usize = 32;

/// 32 random bytes, URL-safe: for refresh tokens and pre-session cookies.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // The OS random source failing is not something a request can recover from.
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How refresh tokens are stored: SHA-256, hex. They are 256 random bits, so
/// a fast hash is enough (no dictionary to guess from).
pub fn hash_refresh_token(token: &str) -> String {
    crate::digest::sha256_hex(token.as_bytes())
}

/// The successor of a refresh token, sealed so that only the holder of the
/// spent token can open it: the successor's bytes XOR SHA-256 of a fixed
/// prefix and the spent token (256 random bits, used once: a one-time pad).
/// The prefix keeps the pad apart from the token's stored hash, SHA-256 of
/// the token alone. Kept with the spent token so a renewal inside the grace
/// window gets the same successor as the first one did, never a chain of
/// its own.
pub fn seal_successor(spent: &str, successor: &str) -> String {
    URL_SAFE_NO_PAD.encode(xor_with_pad(spent, &URL_SAFE_NO_PAD.decode(successor).unwrap_or_default()))
}

/// Opens what `seal_successor` sealed; `None` if it is not such a value.
pub fn open_successor(spent: &str, sealed: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(sealed).ok().filter(|b| b.len() == 32)?;
    Some(URL_SAFE_NO_PAD.encode(xor_with_pad(spent, &bytes)))
}

fn xor_with_pad(spent: &str, bytes: &[u8]) -> Vec<u8> {
    let pad = Sha256::new().chain_update(b"doable refresh successor v1\0").chain_update(spent.as_bytes()).finalize();
    pad.iter().zip(bytes).map(|(p, b)| p ^ b).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> Keys {
        Keys::new(&crate::config::Secret::new(secret))
    }

    #[test]
    fn a_token_verifies_with_its_key_only() {
        let a = keys("a-secret-of-thirty-two-bytes-or-more!");
        let b = keys("another-secret-of-thirty-two-bytes!!");
        let token = a.issue_access(Uuid::new_v4(), Uuid::new_v4(), Duration::from_secs(60)).unwrap();
        assert!(a.verify_access(&token).is_some());
        assert!(b.verify_access(&token).is_none());
    }

    #[test]
    fn csrf_tokens_are_bound_to_their_anchor() {
        let k = keys("a-secret-of-thirty-two-bytes-or-more!");
        let token = k.csrf_token("session-1");
        assert!(k.csrf_matches("session-1", &token));
        assert!(!k.csrf_matches("session-2", &token));
        assert!(!k.csrf_matches("session-1", "not base64 at all!"));
    }

    #[test]
    fn a_sealed_successor_opens_only_with_the_spent_token() {
        let (spent, successor) = (random_token(), random_token());
        let sealed = seal_successor(&spent, &successor);
        assert_ne!(sealed, successor);
        assert_eq!(open_successor(&spent, &sealed).as_deref(), Some(successor.as_str()));
        assert_ne!(open_successor(&random_token(), &sealed).as_deref(), Some(successor.as_str()));
        assert_eq!(open_successor(&spent, "short"), None);
        // The pad is not the stored hash of the spent token, or a copy of
        // the database would open every successor.
        let stored = hash_refresh_token(&spent);
        let stored_bytes: Vec<u8> =
            (0..stored.len()).step_by(2).map(|i| u8::from_str_radix(&stored[i..i + 2], 16).unwrap()).collect();
        let sealed_bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        let opened_with_stored: Vec<u8> = stored_bytes.iter().zip(&sealed_bytes).map(|(p, s)| p ^ s).collect();
        assert_ne!(URL_SAFE_NO_PAD.encode(opened_with_stored), successor);
    }

    #[test]
    fn csrf_tokens_differ_every_time_and_all_validate() {
        let k = keys("a-secret-of-thirty-two-bytes-or-more!");
        let (first, second) = (k.csrf_token("session-1"), k.csrf_token("session-1"));
        assert_ne!(first, second);
        assert!(k.csrf_matches("session-1", &first) && k.csrf_matches("session-1", &second));
        // The bare MAC (what an unmasked token would be) is not accepted, nor
        // is a token with its mask cut off.
        let bare = URL_SAFE_NO_PAD.encode(k.csrf_mac("session-1").finalize().into_bytes());
        assert!(!k.csrf_matches("session-1", &bare));
        assert!(!k.csrf_matches("session-1", &first[..first.len() / 2]));
    }
}
