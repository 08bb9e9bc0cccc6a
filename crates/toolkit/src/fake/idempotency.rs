//! Idempotency keys as providers honour them: the same key with the same request
//! replays the stored answer without doing anything again; the same key with another
//! request is refused. Keys are read from the header the adapter sends them in
//! ([`crate::api::IdempotencyKey`]), within its length limit.

use std::collections::BTreeMap;

use junction_core::fake::{FakeRequest, FakeResponse};

use crate::api::IdempotencyKey;

/// Why an idempotent request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reuse {
    /// The key is empty or longer than the provider takes.
    BadKey,
    /// The key was first used with another request (the key, for the message).
    Conflict(String),
}

/// The answers stored under idempotency keys.
#[derive(Debug)]
pub struct Idempotency {
    /// A header a replayed answer carries (Stripe's `Idempotent-Replayed: true`).
    pub replayed: Option<(&'static str, &'static str)>,
    /// Which answers are stored (the rest may be retried as they are): by default
    /// the successful ones.
    pub keeps: fn(u16) -> bool,
    /// By (scope, key): (the request's fingerprint, the answer).
    stored: BTreeMap<(String, String), (Vec<u8>, FakeResponse)>,
}

impl Default for Idempotency {
    fn default() -> Self {
        Self {
            replayed: None,
            keeps: |status| (200..300).contains(&status),
            stored: BTreeMap::new(),
        }
    }
}

impl Idempotency {
    pub fn replayed(self, header: &'static str, value: &'static str) -> Self {
        Self {
            replayed: Some((header, value)),
            ..self
        }
    }

    pub fn keeps(self, keeps: fn(u16) -> bool) -> Self {
        Self { keeps, ..self }
    }

    /// What identifies a request by default: its method, path and body.
    pub fn fingerprint(request: &FakeRequest) -> Vec<u8> {
        let mut print = format!("{} {}\n", request.method, request.path).into_bytes();
        print.extend_from_slice(&request.body);
        print
    }

    /// Answers `request` with `answer`, unless its key (read as `key` says, within
    /// `scope`: the account, the API key) has an answer already. Without a key,
    /// `answer` runs as it is.
    pub fn run(
        &mut self,
        key: &IdempotencyKey,
        scope: &str,
        request: &FakeRequest,
        fingerprint: Vec<u8>,
        answer: impl FnOnce() -> FakeResponse,
    ) -> Result<FakeResponse, Reuse> {
        let limit = key.max_chars;
        let Some(key) = request.header(key.header) else {
            return Ok(answer());
        };
        if key.is_empty() || key.chars().count() > limit {
            return Err(Reuse::BadKey);
        }
        let slot = (scope.to_owned(), key.to_owned());
        if let Some((stored, response)) = self.stored.get(&slot) {
            if *stored != fingerprint {
                return Err(Reuse::Conflict(slot.1));
            }
            return Ok(match self.replayed {
                Some((name, value)) => response.clone().with_header(name, value),
                None => response.clone(),
            });
        }
        let response = answer();
        if (self.keeps)(response.status) {
            self.stored.insert(slot, (fingerprint, response.clone()));
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(key: Option<&str>, body: &str) -> FakeRequest {
        let mut headers = http::HeaderMap::new();
        if let Some(key) = key {
            headers.insert("idempotency-key", key.parse().unwrap());
        }
        FakeRequest {
            method: http::Method::POST,
            path: "/v1/refunds".into(),
            query: String::new(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn the_same_request_replays_and_another_is_refused() {
        let mut keys = Idempotency::default().replayed("replayed", "true");
        let header = IdempotencyKey::header(8);
        let runs = std::cell::Cell::new(0);
        let send = |keys: &mut Idempotency, scope: &str, request: &FakeRequest| {
            keys.run(
                &header,
                scope,
                request,
                Idempotency::fingerprint(request),
                || {
                    runs.set(runs.get() + 1);
                    FakeResponse::text(if request.body == b"bad" { 400 } else { 200 }, "done")
                },
            )
        };
        let first = request(Some("k1"), "amount=5");
        assert_eq!(send(&mut keys, "acct", &first).unwrap().headers.len(), 1);
        let again = send(&mut keys, "acct", &first).unwrap();
        assert!(
            again
                .headers
                .iter()
                .any(|(n, v)| n == "replayed" && v == "true")
        );
        assert_eq!(
            send(&mut keys, "acct", &request(Some("k1"), "amount=6")),
            Err(Reuse::Conflict("k1".into()))
        );
        // Another scope, no key, a refused request: each runs.
        send(&mut keys, "other", &first).unwrap();
        send(&mut keys, "acct", &request(None, "amount=5")).unwrap();
        send(&mut keys, "acct", &request(Some("k2"), "bad")).unwrap();
        send(&mut keys, "acct", &request(Some("k2"), "bad")).unwrap();
        for bad in ["", "k23456789"] {
            assert_eq!(
                send(&mut keys, "acct", &request(Some(bad), "x")),
                Err(Reuse::BadKey)
            );
        }
        assert_eq!(runs.get(), 5);
    }
}
