//! Postgres LISTEN on a connection of its own, for a process whose caches must
//! learn at once what other processes changed. The triggers of migration
//! `2026-12-12-000010_api_key_changes` announce every API key that stops working
//! on [`API_KEYS_CHANNEL`]; an API process's cache of verified keys listens there.
//!
//! A notification arrives only once its transaction has committed, in commit
//! order. One sent while nobody listened is lost, so a listener that stops (the
//! stream ends: Postgres restarted, the backend was terminated) must be treated
//! as having missed everything until it listens again.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::{DatabaseUrl, StoreError};

/// The channel API keys that stop working are announced on (revoked, deleted,
/// deleted with their workspace); the payload is the key's id.
pub const API_KEYS_CHANNEL: &str = "junction_api_keys";

/// A LISTEN on one channel. Dropping it closes its connection.
pub struct Listener {
    // Kept for its connection: the connection ends when the client is dropped.
    _client: tokio_postgres::Client,
    payloads: mpsc::UnboundedReceiver<String>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").finish_non_exhaustive()
    }
}

impl Listener {
    /// Connects (within `timeout`) and listens on `channel`. The connection is
    /// named `application_name` in `pg_stat_activity`.
    pub async fn start(
        url: &DatabaseUrl,
        channel: &'static str,
        application_name: &str,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url
            .expose()
            .parse()
            .map_err(|_| StoreError::Unavailable("DATABASE_URL is not a Postgres URL".into()))?;
        config
            .application_name(application_name)
            .connect_timeout(timeout);
        let (client, mut connection) = tokio::time::timeout(timeout, config.connect(NoTls))
            .await
            .map_err(|_| {
                StoreError::Unavailable(format!(
                    "timed out after {} ms connecting to Postgres to listen",
                    timeout.as_millis()
                ))
            })?
            .map_err(|e| StoreError::Unavailable(format!("cannot connect to listen: {e}")))?;
        let (sender, payloads) = mpsc::unbounded_channel();
        // The connection must be polled for the client's statements to run at all;
        // this task does that and hands on the notifications. It ends with the
        // connection, which drops the sender and so ends the stream.
        tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(notification)) => {
                        if sender.send(notification.payload().to_owned()).is_err() {
                            break;
                        }
                    }
                    // Notices (a server's warnings) are not what this is for.
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "the listening connection to Postgres ended");
                        break;
                    }
                }
            }
        });
        // The channel is a constant of this crate, not input: quoting it as an
        // identifier keeps that true even if one ever holds an upper-case letter.
        tokio::time::timeout(
            timeout,
            client.batch_execute(&format!("LISTEN \"{}\"", channel.replace('"', "\"\""))),
        )
        .await
        .map_err(|_| StoreError::Unavailable("timed out starting to listen".into()))?
        .map_err(|e| StoreError::Unavailable(format!("cannot listen: {e}")))?;
        Ok(Self {
            _client: client,
            payloads,
        })
    }

    /// The next notification's payload, or `None` once the connection has ended
    /// (everything announced from then on is missed).
    pub async fn next(&mut self) -> Option<String> {
        self.payloads.recv().await
    }
}
