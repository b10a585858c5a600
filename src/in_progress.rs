//! What is in progress per key (an account's password checks, a client's
//! connections, an account's export), with a cap: a place is taken before
//! the work and given back when it is dropped, however the work ends.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Arc, Mutex, PoisonError},
};

#[derive(Debug)]
pub struct PerKey<K: Hash + Eq> {
    cap: usize,
    held: Arc<Mutex<HashMap<K, usize>>>,
}

impl<K: Hash + Eq + Clone> PerKey<K> {
    pub fn new(cap: usize) -> Self {
        PerKey { cap, held: Arc::default() }
    }

    /// A place for `key`, or `None` when it already holds the cap.
    pub fn take(&self, key: K) -> Option<Place<K>> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let count = held.entry(key.clone()).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(Place { key, held: self.held.clone() })
    }
}

/// One place of a key, given back when dropped.
pub struct Place<K: Hash + Eq> {
    key: K,
    held: Arc<Mutex<HashMap<K, usize>>>,
}

impl<K: Hash + Eq> Drop for Place<K> {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = held.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PerKey;

    #[test]
    fn a_key_holds_at_most_its_cap_and_gets_places_back_when_dropped() {
        let places = PerKey::new(2);
        let (a, b) = (places.take("ann").unwrap(), places.take("ann").unwrap());
        assert!(places.take("ann").is_none());
        assert!(places.take("bob").is_some(), "other keys are not affected");
        drop(a);
        assert!(places.take("ann").is_some());
        drop(b);
        assert!(places.held.lock().unwrap().get("ann").is_none(), "an idle key leaves no entry");
    }
}
