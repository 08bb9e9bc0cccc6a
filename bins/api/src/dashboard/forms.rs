//! Submitted forms: every dashboard form is `application/x-www-form-urlencoded`,
//! read as the list of its pairs (so a form generated from a provider's fields or an
//! action's schema needs no struct, and a malformed body is a readable page rather
//! than a bare 400), with the CSRF token in [`CSRF_FIELD`].

use std::{future::Future, pin::Pin};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use super::ui::DashError;

/// The hidden field every form carries its CSRF token in.
pub const CSRF_FIELD: &str = "csrf_token";

/// A submitted form's fields, in order (a name may repeat: checkboxes).
#[derive(Debug, Clone, Default)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The first value of `name`, trimmed, `None` when blank.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether a checkbox named `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl FromRequest for Form {
    type Error = DashError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body.await.map_err(|_| {
                DashError::BadForm("the form could not be read (too large?)".into())
            })?;
            let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
                .map_err(|_| DashError::BadForm("the form is not a valid submission".into()))?;
            // Postgres cannot store NUL in text: refused here, as the API refuses it.
            if pairs
                .iter()
                .any(|(key, value)| key.contains('\0') || value.contains('\0'))
            {
                return Err(DashError::BadForm(
                    "the form holds a NUL character, which cannot be stored".into(),
                ));
            }
            Ok(Form(pairs))
        })
    }
}
