//! The API process's cache of verified workspace API keys. Without it every
//! request would begin with a pool checkout and a round trip to
//! `junction_authenticate_api_key` before doing its own work.
//!
//! A key that stops working must stop at once everywhere, whoever revoked it (the
//! CLI, SQL, another replica). So the cache serves only while the process
//! listens on [`API_KEYS_CHANNEL`], where a trigger announces every revoked or
//! deleted key when its transaction commits ([`junction_store::listen`]), and an
//! announcement drops the key's entries. While the listening connection is down
//! (Postgres restarted, the backend was terminated) nothing is served from the
//! cache and every request reads the key again; after listening again, the cache
//! starts empty, since announcements made meanwhile were missed.
//!
//! A request that read a key just before its revocation committed must not put
//! it back after the announcement dropped it: every announcement, and every
//! change of the listener's state, moves a generation number on, and an entry goes
//! in only if the generation is still the one seen before the read.
//!
//! Entries also expire after [`KEY_TTL`], so `last_used_at` (written at most once
//! a minute when a key is read) stays current within about two minutes.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use junction_store::{
    DatabaseUrl,
    listen::{API_KEYS_CHANNEL, Listener},
    repo::api_keys,
};
use secrecy::SecretString;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::{metrics, ttl_cache::TtlCache, workspaces::Authenticated};

/// How long a verified key serves without being read again (while no
/// announcement drops it first).
pub const KEY_TTL: Duration = Duration::from_secs(30);

/// Keys held at most (only verified keys go in).
const MAX_KEYS: usize = 10_000;

/// The longest wait between two attempts to listen again.
const MAX_RECONNECT_WAIT: Duration = Duration::from_secs(30);

/// A process's cache of verified keys. Cheap to clone; the listening task ends
/// when the last clone is dropped.
#[derive(Clone)]
pub(crate) struct ApiKeyCache {
    shared: Arc<Shared>,
}

struct Shared {
    keys: TtlCache<Vec<u8>, Authenticated>,
    /// Moves on with every announcement and every change of `listening`.
    generation: AtomicU64,
    /// Whether announcements are being received now.
    listening: AtomicBool,
    /// Dropped with the last clone: tells the listening task to stop.
    _stop: Option<oneshot::Sender<()>>,
}

/// What a caller saw before reading a key, to hand back to
/// [`ApiKeyCache::remember`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seen(u64);

impl ApiKeyCache {
    /// A cache that never serves (processes that authenticate no requests, or
    /// rarely: the worker, the CLI).
    pub(crate) fn off() -> Self {
        Self {
            shared: Arc::new(Shared::new(None)),
        }
    }

    /// A cache that serves while it listens on `url` (started here, in the
    /// background, and started again whenever it stops).
    pub(crate) fn listening(url: DatabaseUrl, application_name: String, timeout: Duration) -> Self {
        let (stop, stopped) = oneshot::channel();
        metrics::api_key_cache_listening(false);
        let shared = Arc::new(Shared::new(Some(stop)));
        tokio::spawn(listen(
            Arc::downgrade(&shared),
            url,
            application_name,
            timeout,
            stopped,
        ));
        Self { shared }
    }

    /// The workspace a presented key was verified for, while it may serve.
    pub(crate) fn get(&self, key: &SecretString) -> Option<Authenticated> {
        if !self.shared.listening.load(Ordering::Acquire) {
            return None;
        }
        self.shared.keys.get(&api_keys::hash(key))
    }

    /// Call before reading a key from the database.
    pub(crate) fn seen(&self) -> Seen {
        Seen(self.shared.generation.load(Ordering::Acquire))
    }

    /// Keeps a key verified by a read that started at `seen`, unless something
    /// was announced (or the listener stopped) since.
    pub(crate) fn remember(&self, key: &SecretString, authenticated: Authenticated, seen: Seen) {
        let shared = &self.shared;
        shared
            .keys
            .insert_if(api_keys::hash(key), authenticated, || {
                shared.listening.load(Ordering::Acquire)
                    && shared.generation.load(Ordering::Acquire) == seen.0
            });
    }
}

impl Shared {
    fn new(stop: Option<oneshot::Sender<()>>) -> Self {
        Self {
            keys: TtlCache::new(KEY_TTL, MAX_KEYS),
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            _stop: stop,
        }
    }

    /// The generation moves on before the entries go, so a read that started
    /// before cannot put one back ([`ApiKeyCache::remember`] checks it under the
    /// cache's lock).
    fn forget_key(&self, api_key_id: Uuid) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.keys
            .retain(|authenticated| authenticated.api_key_id != api_key_id);
    }

    fn set_listening(&self, listening: bool) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.keys.clear();
        self.listening.store(listening, Ordering::Release);
        metrics::api_key_cache_listening(listening);
    }
}

/// Listens for as long as the cache lives, listening again (after a growing
/// wait) whenever the connection is lost or cannot be made.
async fn listen(
    shared: std::sync::Weak<Shared>,
    url: DatabaseUrl,
    application_name: String,
    timeout: Duration,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut wait = Duration::from_millis(250);
    loop {
        let listener = tokio::select! {
            _ = &mut stopped => return,
            listener = Listener::start(&url, API_KEYS_CHANNEL, &application_name, timeout) => listener,
        };
        match listener {
            Ok(mut listener) => {
                let Some(live) = shared.upgrade() else { return };
                live.set_listening(true);
                drop(live);
                wait = Duration::from_millis(250);
                loop {
                    let payload = tokio::select! {
                        _ = &mut stopped => return,
                        payload = listener.next() => payload,
                    };
                    let Some(live) = shared.upgrade() else { return };
                    match payload {
                        Some(payload) => match payload.parse::<Uuid>() {
                            Ok(api_key_id) => live.forget_key(api_key_id),
                            // Not ours to read: forget everything rather than guess.
                            Err(_) => live.set_listening(true),
                        },
                        None => {
                            live.set_listening(false);
                            tracing::warn!(
                                "stopped listening for revoked API keys; every request reads \
                                 its key from Postgres until listening again"
                            );
                            break;
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(
                    %error,
                    retry_in_ms = wait.as_millis() as u64,
                    "cannot listen for revoked API keys; every request reads its key from Postgres"
                );
            }
        }
        tokio::select! {
            _ = &mut stopped => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(MAX_RECONNECT_WAIT);
    }
}
