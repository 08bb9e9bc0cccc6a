//! Cursor pagination: opaque cursors (base64url of a small JSON keyset) and the
//! `limit`/`cursor` query parameters every list takes.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use junction_core::ErrorCode;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use utoipa::IntoParams;

use junction_app::{Listed, PageRequest};

use crate::error::ApiError;

/// The default page size.
pub const DEFAULT_LIMIT: i64 = 50;
/// The largest page size a client may ask for.
pub const MAX_LIMIT: i64 = 200;

/// `?limit=&cursor=`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page (1-200, default 50).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    /// The page size, validated.
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
            Some(_) => Err(ApiError::field(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            )),
        }
    }

    /// The decoded keyset of the cursor, if one was given.
    pub fn keyset<T: DeserializeOwned>(&self) -> Result<Option<T>, ApiError> {
        self.cursor.as_deref().map(decode).transpose()
    }

    /// The page a use case reads: the checked limit and the decoded cursor.
    pub fn request<K: DeserializeOwned>(&self) -> Result<PageRequest<K>, ApiError> {
        Ok(PageRequest {
            limit: self.limit()?,
            after: self.keyset()?,
        })
    }
}

/// A page of a use case's list rendered as `{data, next_cursor}`.
pub fn page<T, K: Serialize, V>(
    listed: Listed<T, K>,
    view: impl FnMut(T) -> V,
) -> (Vec<V>, Option<String>) {
    let next = listed.next.as_ref().map(encode);
    (listed.items.into_iter().map(view).collect(), next)
}

/// Encodes a keyset into an opaque cursor.
pub fn encode<T: Serialize>(keyset: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(keyset).unwrap_or_default())
}

/// Decodes a cursor made by [`encode`].
pub fn decode<T: DeserializeOwned>(cursor: &str) -> Result<T, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidCursor,
                "the cursor is not one this API issued",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = encode(&("2026-11-22T00:00:00Z", 7));
        let decoded: (String, i32) = decode(&cursor).unwrap();
        assert_eq!(decoded, ("2026-11-22T00:00:00Z".to_owned(), 7));
        assert!(decode::<(String, i32)>("not a cursor!").is_err());
        let (items, next) = page(
            Listed {
                items: vec![1, 2],
                next: Some(2),
            },
            |i| i * 10,
        );
        assert_eq!(
            (items, next.map(|c| decode::<i32>(&c).unwrap())),
            (vec![10, 20], Some(2))
        );
    }
}
