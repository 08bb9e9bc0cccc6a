//! Cursor pagination: opaque cursors (base64url of a small JSON keyset) and the
//! `limit`/`cursor` query parameters every list takes.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use junction_core::ErrorCode;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use utoipa::IntoParams;

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

/// Cuts a page fetched with `limit + 1` rows down to `limit` and makes the cursor of
/// the next page when there was an extra row (so the last page has no cursor).
pub fn paginate<I, T: Serialize>(
    mut items: Vec<I>,
    limit: i64,
    keyset: impl Fn(&I) -> T,
) -> (Vec<I>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(0);
    if items.len() > limit {
        items.truncate(limit);
        let cursor = items.last().map(|last| encode(&keyset(last)));
        (items, cursor)
    } else {
        (items, None)
    }
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
        let (page, next) = paginate(vec![1, 2, 3], 2, |i| *i);
        assert_eq!(
            (page, next.map(|c| decode::<i32>(&c).unwrap())),
            (vec![1, 2], Some(2))
        );
        let (page, next) = paginate(vec![1, 2], 2, |i| *i);
        assert_eq!((page.len(), next), (2, None));
    }
}
