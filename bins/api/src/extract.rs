//! The extractors every route reads its input with: JSON bodies ([`Json`],
//! [`JsonOrEmpty`]), query strings ([`Query`]) and path parameters ([`Path`]).
//!
//! Each first refuses what Postgres could not store (see
//! [`junction_core::storable`]): a NUL character (U+0000) anywhere in a JSON string
//! or key, and a NUL or invalid UTF-8 in a decoded query or path parameter. The
//! answer is 422 `validation_failed` naming every field at fault, before the handler
//! runs, so no route can hand such input to a use case and no use case has to think
//! about it. Then each parses as actix's own extractor would, its failures answered
//! as problem+json by the handlers in [`crate::error`].
//!
//! JSON numbers are read as JSON (and JSON Schema, so the OpenAPI document) reads
//! them: `60.0` is the integer 60. Without this, serde would refuse `60.0` for an
//! `i32` field that the document declares as an integer.
//!
//! The authenticated proxy and webhook ingress read their bodies as bytes: what they
//! carry goes to a provider, or is kept as the provider signed it.

use std::{future::Future, pin::Pin};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use junction_app::Error;
use junction_core::{ErrorCode, spec::FieldError, storable};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// What the refusal of invalid UTF-8 says.
const NOT_UTF8: &str = "must be valid UTF-8";

/// A JSON body (`Content-Type: application/json`), checked and parsed into `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req.mime_type().ok().flatten().is_some_and(|mime| {
            mime.essence_str() == "application/json" || mime.suffix().is_some_and(|s| s == "json")
        });
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    "the request body must be application/json",
                )
                .into());
            }
            let bytes = body.await.map_err(|_| too_large())?;
            Ok(Self(parse(&bytes)?))
        })
    }
}

/// A JSON body that may be left out: an empty body is `T::default()`, anything else
/// must be valid JSON for `T` (unlike `Option<Json<T>>`, which would silently treat a
/// malformed body as absent).
#[derive(Debug)]
pub struct JsonOrEmpty<T>(pub T);

impl<T: DeserializeOwned + Default + 'static> FromRequest for JsonOrEmpty<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = body.await.map_err(|_| too_large())?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(Self(T::default()));
            }
            Ok(Self(parse(&bytes)?))
        })
    }
}

fn too_large() -> actix_web::Error {
    ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large").into()
}

/// Parses a body: JSON, storable, numbers as JSON reads them, then `T`.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::new(ErrorCode::InvalidJson, e.to_string()))?;
    let refused: Vec<FieldError> = storable::nul_paths(&value)
        .into_iter()
        .map(|path| FieldError {
            field: if path.is_empty() { "body".into() } else { path },
            message: storable::NUL_REFUSED.into(),
        })
        .collect();
    if !refused.is_empty() {
        return Err(ApiError(Error::validation(refused)));
    }
    // serde's derived structs also take a sequence of their fields in order: a body
    // `[null, null]` would pass as an object whose fields are all absent.
    if value.is_array() && is_struct::<T>() {
        return Err(ApiError::new(
            ErrorCode::ValidationFailed,
            "the request body must be a JSON object, not an array",
        ));
    }
    integral_numbers(&mut value);
    T::deserialize(value).map_err(|e| ApiError::new(ErrorCode::ValidationFailed, e.to_string()))
}

/// Whether `T` deserializes as a struct (from a JSON object), found by asking its
/// `Deserialize` what it wants: a struct asks for one, a free-form `Value` (an
/// action's input) for anything.
fn is_struct<T: DeserializeOwned>() -> bool {
    use serde::de::{Error, Visitor};

    /// The probe's answer, carried as the deserialization error.
    #[derive(Debug)]
    struct Asked(bool);

    impl std::fmt::Display for Asked {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "asked for a struct: {}", self.0)
        }
    }

    impl std::error::Error for Asked {}

    impl Error for Asked {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Self(false)
        }
    }

    struct Probe;

    impl<'de> serde::Deserializer<'de> for Probe {
        type Error = Asked;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Asked> {
            Err(Asked(false))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Asked> {
            Err(Asked(true))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
            enum identifier ignored_any
        }
    }

    matches!(T::deserialize(Probe), Err(Asked(true)))
}

/// Turns every number without a fractional part into an integer (`60.0` → `60`),
/// within the range an `i64` holds exactly.
fn integral_numbers(value: &mut Value) {
    // 2^53: beyond it a float no longer tells neighbouring integers apart.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        Value::Number(number) => {
            if let Some(float) = number.as_f64().filter(|_| number.is_f64())
                && float.fract() == 0.0
                && float.abs() <= EXACT
            {
                // Exact: |float| ≤ 2^53 and it has no fraction.
                *number = (float as i64).into();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(fields) => fields.values_mut().for_each(integral_numbers),
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

/// A query string, checked and parsed into `T`.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Query<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Query<T> {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let refused: Vec<FieldError> = req
            .query_string()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .filter_map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                // In a query string `+` is a space; decoding it first keeps `%2B` a plus.
                let decode = |part: &str| {
                    percent_encoding::percent_decode_str(&part.replace('+', " "))
                        .collect::<Vec<u8>>()
                };
                let field = String::from_utf8_lossy(&decode(name)).into_owned();
                refusal(&field, &decode(name)).or_else(|| refusal(&field, &decode(value)))
            })
            .collect();
        if !refused.is_empty() {
            return std::future::ready(Err(ApiError(Error::validation(refused)).into()));
        }
        std::future::ready(
            web::Query::<T>::from_request(req, payload)
                .into_inner()
                .map(|query| Self(query.into_inner())),
        )
    }
}

/// Path parameters, checked and parsed into `T`.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T> Path<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Path<T> {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let refused: Vec<FieldError> = req
            .match_info()
            .iter()
            .filter_map(|(name, raw)| {
                refusal(
                    name,
                    &percent_encoding::percent_decode_str(raw).collect::<Vec<u8>>(),
                )
            })
            .collect();
        if !refused.is_empty() {
            return std::future::ready(Err(ApiError(Error::validation(refused)).into()));
        }
        std::future::ready(
            web::Path::<T>::from_request(req, payload)
                .into_inner()
                .map(|path| Self(path.into_inner())),
        )
    }
}

/// Why a decoded parameter cannot be taken, if it cannot.
fn refusal(field: &str, decoded: &[u8]) -> Option<FieldError> {
    let message = match std::str::from_utf8(decoded) {
        Err(_) => NOT_UTF8,
        Ok(text) if !storable::is_storable(text) => storable::NUL_REFUSED,
        Ok(_) => return None,
    };
    Some(FieldError {
        field: storable::sanitize_text(field).into_owned(),
        message: message.into(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn integral_floats_become_integers_and_nothing_else_changes() {
        let mut value = json!({"a": 60.0, "b": [1.5, -0.0, 1e300, 7], "c": "60.0", "d": 9.0e15});
        integral_numbers(&mut value);
        assert_eq!(
            value,
            json!({"a": 60, "b": [1.5, 0, 1e300, 7], "c": "60.0", "d": 9_000_000_000_000_000_i64})
        );
        assert!(value["a"].is_i64());
    }

    #[test]
    fn bodies_with_nul_are_refused_naming_each_field() {
        let refused =
            parse::<Value>(br#"{"name": "a\u0000", "tags": ["ok", "\u0000"]}"#).unwrap_err();
        let fields: Vec<&str> = refused.0.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["name", "tags[1]"]);
        assert_eq!(refused.0.code, ErrorCode::ValidationFailed);
        let whole = parse::<Value>(br#""\u0000""#).unwrap_err();
        assert_eq!(whole.0.fields[0].field, "body");
        assert_eq!(
            parse::<Value>(br#"{"a": "\ud800"}"#).unwrap_err().0.code,
            ErrorCode::InvalidJson
        );
    }

    #[test]
    fn an_array_is_no_struct_but_still_free_form_json() {
        #[derive(Debug, serde::Deserialize)]
        struct Setup {
            #[allow(dead_code)]
            secret: Option<String>,
        }
        let refused = parse::<Setup>(b"[null]").unwrap_err();
        assert_eq!(refused.0.code, ErrorCode::ValidationFailed);
        assert!(parse::<Setup>(b"{}").is_ok());
        assert_eq!(parse::<Value>(b"[null]").unwrap(), json!([null]));
    }

    #[test]
    fn parameters_with_nul_or_invalid_utf8_are_refused() {
        assert_eq!(
            refusal("q", b"a\0b").unwrap().message,
            storable::NUL_REFUSED
        );
        assert_eq!(refusal("q", b"\xff").unwrap().message, NOT_UTF8);
        assert!(refusal("q", "évènement".as_bytes()).is_none());
    }
}
