//! The reviewers' answer cache: bounded in entries (least recently used
//! goes first), each entry with its own time to live, keyed by a SHA-256
//! digest so that neither a token nor a user's groups are held as keys.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::Duration;

use lru::LruCache;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

pub type Key = [u8; 32];

/// The digest a cache is keyed by.
pub fn key(bytes: &[u8]) -> Key {
    Sha256::digest(bytes).into()
}

pub struct Cache<V> {
    entries: Mutex<LruCache<Key, (Instant, V)>>,
}

impl<V: Clone> Cache<V> {
    pub fn new(capacity: NonZeroUsize) -> Self {
        Cache {
            entries: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// The answer cached for `key`, unless it has expired.
    pub fn get(&self, key: &Key) -> Option<V> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(key) {
            Some((expires, value)) if Instant::now() < *expires => Some(value.clone()),
            Some(_) => {
                entries.pop(key);
                None
            }
            None => None,
        }
    }

    pub fn put(&self, key: Key, value: V, ttl: Duration) {
        let expires = Instant::now() + ttl;
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .put(key, (expires, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn entries_expire_after_their_own_ttl() {
        let cache = Cache::new(NonZeroUsize::new(4).unwrap());
        cache.put(key(b"a"), 1, Duration::from_secs(10));
        cache.put(key(b"b"), 2, Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(cache.get(&key(b"a")), Some(1));
        assert_eq!(cache.get(&key(b"b")), None);
        tokio::time::advance(Duration::from_secs(9)).await;
        assert_eq!(cache.get(&key(b"a")), None);
    }

    #[test]
    fn the_least_recently_used_entry_makes_room() {
        let cache = Cache::new(NonZeroUsize::new(2).unwrap());
        let ttl = Duration::from_secs(60);
        cache.put(key(b"a"), 1, ttl);
        cache.put(key(b"b"), 2, ttl);
        assert_eq!(cache.get(&key(b"a")), Some(1));
        cache.put(key(b"c"), 3, ttl);
        assert_eq!(cache.get(&key(b"b")), None);
        assert_eq!(cache.get(&key(b"a")), Some(1));
        assert_eq!(cache.get(&key(b"c")), Some(3));
    }
}
