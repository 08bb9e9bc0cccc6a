//! A small map whose entries serve for a fixed time after they were put in, with
//! a bound on its size: the per-process caches of what a hot path would otherwise
//! read from Postgres on every request (webhook targets, verified API keys).
//!
//! Only values a caller verified go in, so a flood of made-up keys fills nothing;
//! when the bound is reached anyway, stale entries go first and then everything
//! (a cache miss only costs the read it saves).

use std::{
    collections::HashMap,
    hash::Hash,
    sync::Mutex,
    time::{Duration, Instant},
};

pub(crate) struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
    ttl: Duration,
    max_entries: usize,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub(crate) fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            ttl,
            max_entries,
        }
    }

    /// The value under `key` while it is fresh.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(value, _)| value.clone())
    }

    /// Puts `value` under `key` for the cache's time to live.
    pub(crate) fn insert(&self, key: K, value: V) {
        self.insert_if(key, value, || true);
    }

    /// [`Self::insert`], if `still_valid` holds when the cache is locked (a caller
    /// that read the value before a change was announced must not put it back
    /// after the announcement cleared it).
    pub(crate) fn insert_if(&self, key: K, value: V, still_valid: impl FnOnce() -> bool) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if !still_valid() {
            return;
        }
        let now = Instant::now();
        if entries.len() >= self.max_entries {
            entries.retain(|_, (_, until)| *until > now);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(key, (value, now + self.ttl));
    }

    /// Forgets `key`.
    pub(crate) fn remove(&self, key: &K) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }

    /// Keeps only the entries whose value passes `keep`.
    pub(crate) fn retain(&self, mut keep: impl FnMut(&V) -> bool) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (value, _)| keep(value));
        }
    }

    /// Forgets everything.
    pub(crate) fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_serve_until_their_time_is_up() {
        let cache = TtlCache::new(Duration::ZERO, 10);
        cache.insert(1, "a");
        assert_eq!(cache.get(&1), None, "a zero time to live serves nothing");

        let cache = TtlCache::new(Duration::from_secs(60), 10);
        cache.insert(1, "a");
        assert_eq!(cache.get(&1), Some("a"));
        cache.remove(&1);
        assert_eq!(cache.get(&1), None);
    }

    #[test]
    fn a_full_cache_makes_room() {
        let cache = TtlCache::new(Duration::from_secs(60), 2);
        cache.insert(1, "a");
        cache.insert(2, "b");
        cache.insert(3, "c");
        assert_eq!(cache.get(&3), Some("c"), "the newest entry is always kept");
        assert!(cache.entries.lock().unwrap().len() <= 2);
    }

    #[test]
    fn an_insert_checks_its_condition_under_the_lock() {
        let cache = TtlCache::new(Duration::from_secs(60), 10);
        cache.insert_if(1, "a", || false);
        assert_eq!(cache.get(&1), None);
        cache.insert_if(1, "a", || true);
        cache.insert(2, "b");
        cache.retain(|value| *value != "a");
        assert_eq!((cache.get(&1), cache.get(&2)), (None, Some("b")));
        cache.clear();
        assert_eq!(cache.get(&2), None);
    }
}
