//! Password hashing with argon2id at OWASP's minimum (m = 19 MiB, t = 2,
//! p = 1), on tokio's blocking pool and never more than a few at a time, so
//! a burst of sign-ins can neither stall the async workers nor exhaust memory.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher as _, Version, password_hash::phc::Output,
};
use tokio::sync::{OnceCell, Semaphore};

use crate::{domain::Password, in_progress::PerKey};

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("argon2: {0}")]
    Argon2(String),
    #[error("hashing task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// More password work is waiting than the queue holds: answer 503 now
    /// rather than make everyone wait behind a flood.
    #[error("too much password work waiting")]
    Busy,
}

#[derive(Debug)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// Hashes running or waiting for a permit, and how many may.
    queued: Arc<AtomicUsize>,
    max_queued: usize,
    /// The same, per account: one account's flood must not fill the queue
    /// that everyone else's sign-in waits in.
    per_account: Arc<PerKey<String>>,
    /// A hash of a random password, verified against when the email is
    /// unknown so that answer takes as long as a wrong password.
    dummy_hash: OnceCell<String>,
    /// argon2's working memory (19 MiB a run), handed from one verification
    /// to the next while others wait, so a burst of sign-ins touches no
    /// fresh pages; given back to the system once nothing waits.
    spare_memory: Arc<Mutex<Vec<Vec<Block>>>>,
}

/// Hashes that may wait per hash that may run: a burst of honest sign-ins
/// (32 at once on one core) queues for a second or so; a flood beyond it is
/// refused at once.
pub const QUEUE_FACTOR: usize = 32;

/// One place in the hashing queue, given back when dropped.
struct QueuePlace(Arc<AtomicUsize>);

impl QueuePlace {
    fn take(queued: &Arc<AtomicUsize>, max: usize) -> Option<Self> {
        queued.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).ok()?;
        Some(QueuePlace(queued.clone()))
    }
}

impl Drop for QueuePlace {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Password checks of one account that may be queued or running at once.
pub const PER_ACCOUNT: usize = 4;

/// Checks `password` against the PHC string `stored` as argon2's own
/// verifier does (the parameters, salt and algorithm stored with the hash;
/// a constant-time comparison), but in `memory`, grown to the size the
/// parameters need, instead of memory allocated for this run alone.
fn verify_in(memory: &mut Vec<Block>, password: &[u8], stored: &str) -> bool {
    let mut check = || -> Option<bool> {
        let parsed = PasswordHash::new(stored).ok()?;
        let (salt, expected) = (parsed.salt.as_ref()?, parsed.hash.as_ref()?);
        let params = Params::try_from(&parsed).ok()?;
        let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
        let version = parsed.version.map(Version::try_from).transpose().ok()?.unwrap_or_default();
        if memory.len() < params.block_count() {
            memory.resize(params.block_count(), Block::new());
        }
        let mut computed = vec![0u8; expected.len()];
        let blocks = &mut memory[..params.block_count()];
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(password, salt.as_ref(), &mut computed, blocks)
            .ok()?;
        Some(Output::new(&computed).ok()? == *expected)
    };
    check().unwrap_or(false)
}

fn argon2() -> Argon2<'static> {
    // These parameters are valid; argon2's defaults are the same values, so
    // the fallback can never weaken anything.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

impl Passwords {
    /// `max_concurrent` hashes run at once; up to `QUEUE_FACTOR` times as
    /// many wait their turn, and more are refused at once ([`HashError::Busy`]).
    pub fn new(max_concurrent: usize) -> Self {
        let max_concurrent = max_concurrent.max(1);
        Passwords {
            permits: Arc::new(Semaphore::new(max_concurrent)),
            queued: Arc::new(AtomicUsize::new(0)),
            max_queued: max_concurrent * QUEUE_FACTOR,
            per_account: Arc::new(PerKey::new(PER_ACCOUNT)),
            dummy_hash: OnceCell::new(),
            spare_memory: Arc::new(Mutex::new(Vec::new())),
        }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, HashError> {
        self.run_for(None, work).await
    }

    async fn run_for<T: Send + 'static>(
        &self,
        account: Option<&str>,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let account = match account {
            Some(key) => Some(self.per_account.take(key.to_owned()).ok_or(HashError::Busy)?),
            None => None,
        };
        let place = QueuePlace::take(&self.queued, self.max_queued).ok_or(HashError::Busy)?;
        // The semaphore is never closed, so acquire cannot fail.
        let permit = self.permits.clone().acquire_owned().await.map_err(|e| HashError::Argon2(e.to_string()))?;
        // The permit and the place move into the blocking job: if the request
        // is dropped (client gone, timeout), the hash still counts until it
        // finishes.
        Ok(tokio::task::spawn_blocking(move || {
            let _held = (permit, place, account);
            work()
        })
        .await?)
    }

    /// Refuses common and easily guessed passwords (zxcvbn score below 2),
    /// taking the user's own email and name as guessable too. NIST 800-63B:
    /// no composition rules, but no passwords from the attackers' lists.
    /// Runs on the blocking pool; only the first 100 characters are judged,
    /// which bounds the work and is plenty to tell a common password.
    pub async fn strong_enough(&self, password: &Password, user_inputs: &[&str]) -> Result<bool, HashError> {
        let password: String = password.expose().chars().take(100).collect();
        let inputs: Vec<String> = user_inputs.iter().map(|s| s.to_string()).collect();
        Ok(tokio::task::spawn_blocking(move || {
            let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
            zxcvbn::zxcvbn(&password, &inputs).score() as u8 >= 2
        })
        .await?)
    }

    /// Hashes running or waiting right now cannot exceed this.
    pub fn available_permits(&self) -> usize {
        self.permits.available_permits()
    }

    /// Makes the dummy hash now, so the first unknown-email sign-in costs
    /// one hash like every other.
    pub async fn warm_up(&self) -> Result<(), HashError> {
        self.dummy_hash().await.map(|_| ())
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) with a fresh salt.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let password = password.expose().to_owned();
        self.run(move || {
            argon2()
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|e| HashError::Argon2(e.to_string()))
        })
        .await?
    }

    /// Checks `password` against `stored`, or against a dummy hash when
    /// there is no stored hash, so both paths cost one argon2 run.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, HashError> {
        self.verify_for(None, password, stored).await
    }

    /// [`verify`](Self::verify) as a guess at `account`'s password: at most
    /// [`PER_ACCOUNT`] of those wait or run at once, and more are refused
    /// ([`HashError::Busy`]).
    pub async fn verify_for(
        &self,
        account: Option<&str>,
        password: &str,
        stored: Option<&str>,
    ) -> Result<bool, HashError> {
        let (hash, real) = match stored {
            Some(hash) => (hash.to_owned(), true),
            None => (self.dummy_hash().await?.clone(), false),
        };
        let password = password.to_owned();
        let (spare, queued) = (self.spare_memory.clone(), self.queued.clone());
        let matches = self
            .run_for(account, move || {
                let mut memory = spare.lock().map(|mut spare| spare.pop()).ok().flatten().unwrap_or_default();
                let matches = verify_in(&mut memory, password.as_bytes(), &hash);
                if let Ok(mut spare) = spare.lock() {
                    // This run still holds its place in the queue: more than
                    // one place taken means another check is waiting.
                    if queued.load(Ordering::Acquire) > 1 {
                        spare.push(memory);
                    } else {
                        spare.clear();
                    }
                }
                matches
            })
            .await?;
        Ok(real && matches)
    }

    #[cfg(test)]
    fn spare_buffers(&self) -> usize {
        self.spare_memory.lock().map_or(0, |spare| spare.len())
    }

    async fn dummy_hash(&self) -> Result<&String, HashError> {
        self.dummy_hash
            .get_or_try_init(|| async {
                let mut random = [0u8; 24];
                getrandom::fill(&mut random).map_err(|e| HashError::Argon2(e.to_string()))?;
                let password = Password::parse(&format!("{random:?}")).map_err(|e| HashError::Argon2(e.into()))?;
                self.hash(&password).await
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_hash_keeps_its_permit_until_it_finishes() {
        let passwords = Arc::new(Passwords::new(1));
        let password = Password::parse("correct horse battery").unwrap();
        let started = {
            let passwords = passwords.clone();
            let password = password.clone();
            tokio::spawn(async move { passwords.hash(&password).await })
        };
        // Let it acquire the permit and start hashing, then abandon it.
        while passwords.available_permits() == 1 {
            tokio::task::yield_now().await;
        }
        started.abort();
        let _ = started.await; // the request's future is gone now
        assert_eq!(passwords.available_permits(), 0, "the running hash still holds the only permit");
        // The next hash waits for it rather than running beside it.
        assert!(passwords.hash(&password).await.is_ok());
        assert_eq!(passwords.available_permits(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn password_work_past_the_queue_is_refused_at_once() {
        let passwords = Arc::new(Passwords::new(1));
        let password = Password::parse("correct horse battery").unwrap();
        let flood: Vec<_> = (0..QUEUE_FACTOR + 20)
            .map(|_| {
                let (passwords, password) = (passwords.clone(), password.clone());
                tokio::spawn(async move { passwords.hash(&password).await })
            })
            .collect();
        let mut busy = 0;
        for outcome in futures_join(flood).await {
            match outcome {
                Ok(_) => {}
                Err(HashError::Busy) => busy += 1,
                Err(other) => panic!("{other}"),
            }
        }
        // One runs and QUEUE_FACTOR wait (at most); the rest are refused.
        assert!(busy >= 20, "only {busy} of {} refused", QUEUE_FACTOR + 20);
        assert_eq!(passwords.queued.load(Ordering::Acquire), 0, "every place is given back");
        assert!(passwords.hash(&password).await.is_ok(), "the queue works again once drained");
    }

    async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
        let mut out = Vec::new();
        for handle in handles {
            out.push(handle.await.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let passwords = Passwords::new(2);
        let password = Password::parse("correct horse battery").unwrap();
        let hash = passwords.hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(passwords.verify("correct horse battery", Some(&hash)).await.unwrap());
        assert!(!passwords.verify("wrong horse battery", Some(&hash)).await.unwrap());
        assert!(!passwords.verify("correct horse battery", None).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn working_memory_is_reused_during_a_burst_and_given_back_after() {
        let passwords = Arc::new(Passwords::new(1));
        let hash = passwords.hash(&Password::parse("correct horse battery").unwrap()).await.unwrap();
        let burst: Vec<_> = (0..6)
            .map(|n| {
                let (passwords, hash) = (passwords.clone(), hash.clone());
                let guess = if n == 0 { "correct horse battery".to_owned() } else { format!("wrong {n}") };
                tokio::spawn(async move { passwords.verify(&guess, Some(&hash)).await.unwrap() })
            })
            .collect();
        let verdicts = futures_join(burst).await;
        assert_eq!(verdicts.iter().filter(|ok| **ok).count(), 1, "only the right password matches");
        assert_eq!(passwords.spare_buffers(), 0, "nothing kept once nothing waits");
        // Hashes made with other parameters still verify (the memory grows).
        let small = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8 * 1024, 1, 1, None).unwrap())
            .hash_password(b"older parameters")
            .unwrap()
            .to_string();
        assert!(passwords.verify("older parameters", Some(&small)).await.unwrap());
        assert!(!passwords.verify("other", Some(&small)).await.unwrap());
        assert!(!passwords.verify("older parameters", Some("$argon2id$not-a-hash")).await.unwrap());
    }

    #[tokio::test]
    async fn common_and_personal_passwords_are_refused() {
        let passwords = Passwords::new(1);
        for weak in ["password1", "12345678", "qwertyuiop", "iloveyou123"] {
            let weak = Password::parse(weak).unwrap();
            assert!(!passwords.strong_enough(&weak, &[]).await.unwrap(), "{weak:?} accepted");
        }
        let own = Password::parse("ann.smith@example.com").unwrap();
        assert!(!passwords.strong_enough(&own, &["ann.smith@example.com"]).await.unwrap());
        let good = Password::parse("correct horse battery staple").unwrap();
        assert!(passwords.strong_enough(&good, &["ann@example.com"]).await.unwrap());
        let long = Password::parse(&"long random words ".repeat(50)).unwrap();
        assert!(passwords.strong_enough(&long, &[]).await.unwrap());
    }
}
