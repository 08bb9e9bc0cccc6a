//! The `idempotency_keys` table: `Idempotency-Key` handling for POST requests.
//!
//! The first request with a key claims it (response still NULL), runs, and stores
//! its response (status, content type and the body's bytes as sent); a later
//! request with the same key and the same fingerprint gets that response again, one
//! with another fingerprint is a conflict, and one that arrives while the first
//! still runs is told so.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;

use super::sha256;
use crate::{Conn, StoreError, models::IdempotencyRecord, schema::idempotency_keys};

/// What to do with a request that carries an idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The key is new: run the request, then [`complete`] it.
    New,
    /// The same request ran before: answer with its response.
    Replay(Answer),
    /// The key was used for a different request.
    Mismatch,
    /// The first request with this key is still running.
    InFlight,
}

/// A response as it is kept and replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// None for a response kept before content types were (its body is JSON).
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// The fingerprint of a request: method, path and body.
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(method.len() + path.len() + body.len() + 2);
    bytes.extend_from_slice(method.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(path.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(body);
    sha256(&bytes)
}

/// Claims a key for a request of the scoped workspace (an expired record is replaced).
pub async fn claim(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    key: &str,
    method: &str,
    path: &str,
    request_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<Claim, StoreError> {
    if key.is_empty() || key.len() > 255 {
        return Err(StoreError::Invalid(
            "Idempotency-Key must be 1-255 characters".into(),
        ));
    }
    diesel::delete(
        idempotency_keys::table
            .find((workspace_id.as_uuid(), key))
            .filter(idempotency_keys::expires_at.le(diesel::dsl::now)),
    )
    .execute(conn)
    .await?;
    let inserted = diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::workspace_id.eq(workspace_id.as_uuid()),
            idempotency_keys::key.eq(key),
            idempotency_keys::method.eq(method),
            idempotency_keys::path.eq(path),
            idempotency_keys::request_hash.eq(request_hash),
            idempotency_keys::expires_at.eq(expires_at),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let existing: IdempotencyRecord = idempotency_keys::table
        .find((workspace_id.as_uuid(), key))
        .select(IdempotencyRecord::as_select())
        .first(conn)
        .await?;
    if existing.request_hash != request_hash {
        return Ok(Claim::Mismatch);
    }
    let Some(status) = existing.response_status else {
        return Ok(Claim::InFlight);
    };
    let body = match (existing.response_raw, existing.response_body) {
        (Some(raw), _) => raw,
        // Kept before the raw body was: JSON.
        (None, body) => body
            .unwrap_or(serde_json::Value::Null)
            .to_string()
            .into_bytes(),
    };
    Ok(Claim::Replay(Answer {
        status: u16::try_from(status).unwrap_or(500),
        content_type: existing.response_content_type,
        body,
    }))
}

/// Stores the response of a claimed key.
pub async fn complete(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    key: &str,
    answer: &Answer,
) -> Result<(), StoreError> {
    diesel::update(idempotency_keys::table.find((workspace_id.as_uuid(), key)))
        .set((
            idempotency_keys::response_status.eq(Some(i16::try_from(answer.status).unwrap_or(500))),
            idempotency_keys::response_content_type.eq(answer.content_type.as_deref()),
            idempotency_keys::response_raw.eq(Some(answer.body.as_slice())),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Releases a claimed key whose request failed before producing a response worth
/// replaying (so the client may retry with the same key).
pub async fn release(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    key: &str,
) -> Result<(), StoreError> {
    diesel::delete(
        idempotency_keys::table
            .find((workspace_id.as_uuid(), key))
            .filter(idempotency_keys::response_status.is_null()),
    )
    .execute(conn)
    .await?;
    Ok(())
}
