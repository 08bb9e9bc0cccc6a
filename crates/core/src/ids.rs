//! Domain identifiers: newtypes that parse, so an integration id is never passed
//! where a workspace id was meant.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random id.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

uuid_id!(
    /// A tenant: every tenant-owned row belongs to exactly one workspace.
    WorkspaceId
);
uuid_id!(
    /// One connection of a workspace to a provider.
    IntegrationId
);

/// A provider id such as `google-analytics`: lower-case ASCII letters, digits and
/// single dashes, 2 to 64 characters, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ProviderId(String);

/// Why a string is not a valid [`ProviderId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid provider id: expected 2-64 lower-case letters, digits and single dashes, starting with a letter"
)]
pub struct InvalidProviderId;

impl ProviderId {
    /// Parses a provider id.
    pub fn parse(value: &str) -> Result<Self, InvalidProviderId> {
        let bytes = value.as_bytes();
        let well_formed = (2..=64).contains(&bytes.len())
            && bytes[0].is_ascii_lowercase()
            && bytes[bytes.len() - 1] != b'-'
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            && !value.contains("--");
        if well_formed {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidProviderId)
        }
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ProviderId {
    type Err = InvalidProviderId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for ProviderId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_ids_parse_strictly() {
        for ok in ["google-analytics", "stripe", "meta-ads", "kit", "devto2"] {
            assert_eq!(
                ProviderId::parse(ok).map(|p| p.to_string()),
                Ok(ok.to_owned())
            );
        }
        for bad in [
            "",
            "a",
            "Stripe",
            "-stripe",
            "stripe-",
            "meta--ads",
            "9lives",
            "me ta",
            "ü-x",
        ] {
            assert!(
                ProviderId::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
        assert!(serde_json::from_str::<ProviderId>("\"Bad Id\"").is_err());
    }

    #[test]
    fn uuid_ids_round_trip() {
        let id = WorkspaceId::new();
        assert_eq!(id.to_string().parse::<WorkspaceId>(), Ok(id));
        assert!("not-a-uuid".parse::<IntegrationId>().is_err());
    }
}
