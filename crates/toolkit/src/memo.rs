//! [`TokenMemo`]: what a provider says about an access token, looked up once and
//! remembered in memory.
//!
//! Some APIs need a lookup before the first call of a connection: Mailchimp's OAuth
//! tokens carry no data center, which its metadata endpoint names (the value then
//! fills a [`crate::VarSource::Given`] placeholder of the base URL). The answer does
//! not change for a token, so a sync looks it up once rather than per page.
//!
//! Entries are keyed by the SHA-256 of the token, never the token itself. At most
//! `capacity` are kept; past it the memo starts over (a lookup is one request, so
//! forgetting costs little, and memory stays bounded). A failed lookup is not
//! remembered, and [`TokenMemo::forget`] drops a token the provider refused, so a
//! reconnect (a new token) or a changed account is looked up afresh.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
};

use junction_core::AdapterError;
use ring::digest;
use secrecy::{ExposeSecret, SecretString};

/// Entries kept by default.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Values of type `T` remembered per access token.
pub struct TokenMemo<T> {
    entries: Mutex<HashMap<[u8; 32], T>>,
    capacity: usize,
}

impl<T> Default for TokenMemo<T> {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl<T> std::fmt::Debug for TokenMemo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenMemo")
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

impl<T> TokenMemo<T> {
    /// A memo of at most `capacity` tokens (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no token is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets `token` (the provider refused it).
    pub fn forget(&self, token: &SecretString) {
        self.lock().remove(&key(token));
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<[u8; 32], T>> {
        // A panic elsewhere cannot leave a map half-written: only whole inserts and
        // removals happen under the lock.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: Clone> TokenMemo<T> {
    /// The value of `token`: remembered, or `lookup`'s (then remembered; a failure is
    /// returned and not remembered). The lock is not held during the lookup, so two
    /// first calls of one token may both look it up; the answers are the same.
    pub async fn get_or_lookup<F, Fut>(
        &self,
        token: &SecretString,
        lookup: F,
    ) -> Result<T, AdapterError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, AdapterError>>,
    {
        let key = key(token);
        if let Some(found) = self.lock().get(&key) {
            return Ok(found.clone());
        }
        let value = lookup().await?;
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(key, value.clone());
        Ok(value)
    }
}

fn key(token: &SecretString) -> [u8; 32] {
    let digest = digest::digest(&digest::SHA256, token.expose_secret().as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn values_are_looked_up_once_per_token() {
        let memo: TokenMemo<String> = TokenMemo::default();
        let calls = AtomicUsize::new(0);
        let lookup = |answer: &'static str| {
            let calls = &calls;
            move || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok::<_, AdapterError>(answer.to_owned())
            }
        };
        let one = SecretString::from("token-one");
        let two = SecretString::from("token-two");
        assert_eq!(
            memo.get_or_lookup(&one, lookup("us1")).await.unwrap(),
            "us1"
        );
        assert_eq!(memo.get_or_lookup(&one, lookup("x")).await.unwrap(), "us1");
        assert_eq!(
            memo.get_or_lookup(&two, lookup("us19")).await.unwrap(),
            "us19"
        );
        assert_eq!((calls.load(Ordering::SeqCst), memo.len()), (2, 2));
        memo.forget(&one);
        assert_eq!(
            memo.get_or_lookup(&one, lookup("us2")).await.unwrap(),
            "us2"
        );
        let debug = format!("{memo:?}");
        assert!(
            !debug.contains("token-one") && debug.contains('2'),
            "{debug}"
        );
    }

    #[tokio::test]
    async fn failures_are_not_remembered_and_the_size_is_bounded() {
        let memo: TokenMemo<u8> = TokenMemo::with_capacity(2);
        let token = SecretString::from("t");
        let failed = memo
            .get_or_lookup(&token, || async { Err(AdapterError::unavailable("down")) })
            .await;
        assert!(failed.is_err());
        assert!(memo.is_empty());
        for (i, name) in ["a", "b", "c"].into_iter().enumerate() {
            let token = SecretString::from(name);
            let value = u8::try_from(i).unwrap();
            memo.get_or_lookup(&token, || async move { Ok(value) })
                .await
                .unwrap();
        }
        // The third token found the memo full: it started over.
        assert_eq!(memo.len(), 1);
    }
}
