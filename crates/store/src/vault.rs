//! The credential vault: AES-256-GCM sealing with a key ring.
//!
//! A sealed value is `nonce (12 bytes) || ciphertext || tag (16 bytes)`, stored with
//! the id of the key that sealed it. The associated data binds the workspace, the
//! owning row (an integration, an OAuth state) and the field name, so a ciphertext
//! copied to another integration or field fails to open. The key ring comes from
//! `JUNCTION_KEYS` (`id:base64key,id:base64key`): the first key seals, every key
//! opens, which is what lets `junction keys rotate` re-seal under a new key before
//! the old one is removed.
//!
//! The ring proves itself: each key id has a check value ([`KeyCheck`]), a known
//! plaintext sealed with that key under the AAD `junction/v1/key-check/{key_id}`,
//! stored the first time a process runs with the key (`repo::key_checks`). A key that
//! cannot open its id's check value is another key under the same id
//! ([`VaultError::KeyMismatch`]), and processes refuse to start with it instead of
//! failing on every credential later.

use std::fmt;

use base64::{Engine, engine::general_purpose::STANDARD};
use ring::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    rand::{SecureRandom, SystemRandom},
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

/// The environment variable holding the key ring.
pub const KEYS_ENV: &str = "JUNCTION_KEYS";

const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// Why a key ring could not be loaded. Messages name the variable and the position
/// of the bad entry, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRingError {
    #[error(
        "{KEYS_ENV} is not set: set it to `id:base64key` (32-byte keys; `junction keys generate` makes one)"
    )]
    Missing,
    #[error("{KEYS_ENV} is malformed: entry {position} is not `id:base64key`")]
    MalformedEntry { position: usize },
    #[error(
        "{KEYS_ENV} is malformed: entry {position} has an invalid key id (use 1-64 letters, digits, `-` or `_`)"
    )]
    InvalidKeyId { position: usize },
    #[error(
        "{KEYS_ENV} is malformed: the key of entry {position} is not base64 of exactly 32 bytes"
    )]
    InvalidKey { position: usize },
    #[error("{KEYS_ENV} is malformed: key id of entry {position} appears twice")]
    DuplicateKeyId { position: usize },
}

/// Why sealing or opening failed. Never carries plaintext or key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error("credential sealed with key `{0}`, which is not in the key ring")]
    UnknownKey(String),
    #[error("credential could not be opened: wrong key, wrong owner or corrupted ciphertext")]
    OpenFailed,
    #[error("credential could not be sealed")]
    SealFailed,
    #[error("the sealed credential is not valid UTF-8")]
    NotUtf8,
    /// The key under this id does not open the check value stored for the id: it is
    /// not the key that sealed before.
    #[error(
        "{KEYS_ENV}: key `{0}` does not open what it sealed before (a different key under the same id?)"
    )]
    KeyMismatch(String),
}

struct RingKey {
    id: String,
    key: LessSafeKey,
}

/// The loaded keys; the first one seals.
pub struct KeyRing {
    keys: Vec<RingKey>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("key_ids", &self.key_ids())
            .finish()
    }
}

impl KeyRing {
    /// Parses `id:base64key[,id:base64key...]`. Whitespace around entries is ignored.
    pub fn parse(spec: &SecretString) -> Result<Self, KeyRingError> {
        let spec = spec.expose_secret().trim();
        if spec.is_empty() {
            return Err(KeyRingError::Missing);
        }
        let mut keys: Vec<RingKey> = Vec::new();
        for (index, entry) in spec.split(',').enumerate() {
            let position = index + 1;
            let (id, encoded) = entry
                .trim()
                .split_once(':')
                .ok_or(KeyRingError::MalformedEntry { position })?;
            let valid_id = (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid_id {
                return Err(KeyRingError::InvalidKeyId { position });
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(KeyRingError::DuplicateKeyId { position });
            }
            let bytes = STANDARD
                .decode(encoded.trim())
                .map_err(|_| KeyRingError::InvalidKey { position })?;
            if bytes.len() != KEY_LEN {
                return Err(KeyRingError::InvalidKey { position });
            }
            let unbound = UnboundKey::new(&AES_256_GCM, &bytes)
                .map_err(|_| KeyRingError::InvalidKey { position })?;
            keys.push(RingKey {
                id: id.to_owned(),
                key: LessSafeKey::new(unbound),
            });
        }
        Ok(Self { keys })
    }

    /// Loads the ring from `JUNCTION_KEYS`.
    pub fn from_env() -> Result<Self, KeyRingError> {
        match std::env::var(KEYS_ENV) {
            Ok(value) => Self::parse(&SecretString::from(value)),
            Err(_) => Err(KeyRingError::Missing),
        }
    }

    /// A fresh random key, base64-encoded, for a new ring entry.
    pub fn generate_key() -> Result<SecretString, VaultError> {
        let mut bytes = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| VaultError::SealFailed)?;
        Ok(SecretString::from(STANDARD.encode(bytes)))
    }

    /// The ids in ring order; the first seals.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// The id of the sealing key.
    pub fn primary_key_id(&self) -> &str {
        // parse() never builds an empty ring.
        self.keys.first().map(|k| k.id.as_str()).unwrap_or("")
    }

    fn get(&self, id: &str) -> Option<&LessSafeKey> {
        self.keys.iter().find(|k| k.id == id).map(|k| &k.key)
    }
}

/// What a sealed value is bound to (the AAD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealContext<'a> {
    pub workspace_id: Uuid,
    /// The row the secret belongs to: an integration id, an OAuth state id.
    pub owner_id: Uuid,
    /// The field name: `access_token`, `api_key`, `pkce_verifier`, ...
    pub field: &'a str,
}

impl SealContext<'_> {
    fn aad(&self) -> Vec<u8> {
        format!(
            "junction/v1/{}/{}/{}",
            self.workspace_id, self.owner_id, self.field
        )
        .into_bytes()
    }
}

/// The plaintext every check value seals. It is public: a check value proves which
/// key sealed it and hides nothing.
const KEY_CHECK_PLAINTEXT: &[u8] = b"junction key check v1";

/// The associated data of a key's check value, so a check value of one id does not
/// open as another id's.
fn key_check_aad(key_id: &str) -> Vec<u8> {
    format!("junction/v1/key-check/{key_id}").into_bytes()
}

/// A key's check value: a fixed, public plaintext sealed with the key (AES-256-GCM, a
/// fresh nonce, AAD `junction/v1/key-check/{key_id}`). Only an AEAD ciphertext of a
/// public text is ever stored, nothing else derived from the key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyCheck {
    pub key_id: String,
    /// The 96-bit nonce it was sealed with.
    pub nonce: Vec<u8>,
    /// Ciphertext and tag.
    pub check_value: Vec<u8>,
}

impl fmt::Debug for KeyCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCheck")
            .field("key_id", &self.key_id)
            .field("len", &self.check_value.len())
            .finish()
    }
}

/// A sealed value and the id of the key that sealed it.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Seals and opens secrets with a [`KeyRing`].
#[derive(Debug)]
pub struct Vault {
    ring: KeyRing,
    rng: SystemRandom,
}

impl Vault {
    pub fn new(ring: KeyRing) -> Self {
        Self {
            ring,
            rng: SystemRandom::new(),
        }
    }

    /// The key ring.
    pub fn ring(&self) -> &KeyRing {
        &self.ring
    }

    /// Seals with the first key and a fresh random nonce.
    pub fn seal(
        &self,
        context: SealContext<'_>,
        secret: &SecretString,
    ) -> Result<Sealed, VaultError> {
        let key_id = self.ring.primary_key_id();
        let key = self.ring.get(key_id).ok_or(VaultError::SealFailed)?;
        let (nonce_bytes, ciphertext) =
            self.seal_bytes(key, context.aad(), secret.expose_secret().as_bytes())?;
        let mut bytes = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        bytes.extend_from_slice(&nonce_bytes);
        bytes.extend_from_slice(&ciphertext);
        Ok(Sealed {
            key_id: key_id.to_owned(),
            bytes,
        })
    }

    /// Seals `plaintext` with `key` and a fresh random nonce: (nonce, ciphertext || tag).
    fn seal_bytes(
        &self,
        key: &LessSafeKey,
        aad: Vec<u8>,
        plaintext: &[u8],
    ) -> Result<([u8; NONCE_LEN], Vec<u8>), VaultError> {
        let mut nonce_bytes = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce_bytes)
            .map_err(|_| VaultError::SealFailed)?;
        let mut in_out = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(aad),
            &mut in_out,
        )
        .map_err(|_| VaultError::SealFailed)?;
        Ok((nonce_bytes, in_out))
    }

    /// Opens ciphertext || tag with `key`; `None` on any failure.
    fn open_bytes(
        key: &LessSafeKey,
        aad: Vec<u8>,
        nonce_bytes: &[u8],
        ciphertext: &[u8],
    ) -> Option<Vec<u8>> {
        if ciphertext.len() < TAG_LEN {
            return None;
        }
        let nonce = Nonce::try_assume_unique_for_key(nonce_bytes).ok()?;
        let mut in_out = ciphertext.to_vec();
        let plaintext = key.open_in_place(nonce, Aad::from(aad), &mut in_out).ok()?;
        Some(plaintext.to_vec())
    }

    /// Opens a sealed value with the key it names; fails on any tampering.
    pub fn open(
        &self,
        context: SealContext<'_>,
        sealed: &Sealed,
    ) -> Result<SecretString, VaultError> {
        let key = self
            .ring
            .get(&sealed.key_id)
            .ok_or_else(|| VaultError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(VaultError::OpenFailed);
        }
        let (nonce_bytes, ciphertext) = sealed.bytes.split_at(NONCE_LEN);
        let plaintext = Self::open_bytes(key, context.aad(), nonce_bytes, ciphertext)
            .ok_or(VaultError::OpenFailed)?;
        let text = String::from_utf8(plaintext).map_err(|_| VaultError::NotUtf8)?;
        Ok(SecretString::from(text))
    }

    /// A new check value for the ring's key `key_id` (to store when the id has none).
    pub fn seal_check(&self, key_id: &str) -> Result<KeyCheck, VaultError> {
        let key = self
            .ring
            .get(key_id)
            .ok_or_else(|| VaultError::UnknownKey(key_id.to_owned()))?;
        let (nonce, check_value) =
            self.seal_bytes(key, key_check_aad(key_id), KEY_CHECK_PLAINTEXT)?;
        Ok(KeyCheck {
            key_id: key_id.to_owned(),
            nonce: nonce.to_vec(),
            check_value,
        })
    }

    /// Proves the ring's key under `check.key_id` against a stored check value: it
    /// must open it to the check plaintext, else it is another key under that id
    /// ([`VaultError::KeyMismatch`], naming the id only).
    pub fn verify_check(&self, check: &KeyCheck) -> Result<(), VaultError> {
        let key = self
            .ring
            .get(&check.key_id)
            .ok_or_else(|| VaultError::UnknownKey(check.key_id.clone()))?;
        match Self::open_bytes(
            key,
            key_check_aad(&check.key_id),
            &check.nonce,
            &check.check_value,
        ) {
            Some(plaintext) if plaintext == KEY_CHECK_PLAINTEXT => Ok(()),
            _ => Err(VaultError::KeyMismatch(check.key_id.clone())),
        }
    }

    /// Whether a value is sealed with a key other than the current sealing key.
    pub fn needs_reseal(&self, sealed: &Sealed) -> bool {
        sealed.key_id != self.ring.primary_key_id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opens and forgets the secret, so results compare (secrets have no PartialEq).
    trait OpenErr {
        fn open_err(&self, context: SealContext<'_>, sealed: &Sealed) -> Result<(), VaultError>;
    }

    impl OpenErr for Vault {
        fn open_err(&self, context: SealContext<'_>, sealed: &Sealed) -> Result<(), VaultError> {
            self.open(context, sealed).map(|_| ())
        }
    }

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; KEY_LEN])
    }

    fn ring(spec: &str) -> Result<KeyRing, KeyRingError> {
        KeyRing::parse(&SecretString::from(spec.to_owned()))
    }

    fn ctx(field: &str) -> SealContext<'_> {
        SealContext {
            workspace_id: Uuid::from_u128(1),
            owner_id: Uuid::from_u128(2),
            field,
        }
    }

    #[test]
    fn ring_parsing_reports_position_never_value() {
        assert_eq!(ring("").unwrap_err(), KeyRingError::Missing);
        assert_eq!(
            ring("nocolon").unwrap_err(),
            KeyRingError::MalformedEntry { position: 1 }
        );
        let bad_key = format!("k1:{},k2:notbase64!!", key(1));
        let err = ring(&bad_key).unwrap_err();
        assert_eq!(err, KeyRingError::InvalidKey { position: 2 });
        assert!(!err.to_string().contains("notbase64"));
        assert!(err.to_string().contains("JUNCTION_KEYS"));
        let short = format!("k1:{}", STANDARD.encode([1u8; 16]));
        assert_eq!(
            ring(&short).unwrap_err(),
            KeyRingError::InvalidKey { position: 1 }
        );
        let dup = format!("k1:{},k1:{}", key(1), key(2));
        assert_eq!(
            ring(&dup).unwrap_err(),
            KeyRingError::DuplicateKeyId { position: 2 }
        );
        let bad_id = format!("k 1:{}", key(1));
        assert_eq!(
            ring(&bad_id).unwrap_err(),
            KeyRingError::InvalidKeyId { position: 1 }
        );
        let ok = ring(&format!(" new:{} , old:{} ", key(1), key(2))).unwrap();
        assert_eq!(ok.key_ids(), ["new", "old"]);
        assert_eq!(ok.primary_key_id(), "new");
    }

    #[test]
    fn seal_open_round_trip_with_fresh_nonces() {
        let vault = Vault::new(ring(&format!("k1:{}", key(7))).unwrap());
        let secret = SecretString::from("sk_live_abc");
        let a = vault.seal(ctx("api_key"), &secret).unwrap();
        let b = vault.seal(ctx("api_key"), &secret).unwrap();
        assert_ne!(a.bytes, b.bytes, "nonces must differ");
        assert_eq!(a.key_id, "k1");
        assert_eq!(
            vault.open(ctx("api_key"), &a).unwrap().expose_secret(),
            "sk_live_abc"
        );
        assert!(!a.bytes.windows(3).any(|w| w == b"abc"));
    }

    #[test]
    fn tampering_fails_to_open() {
        let vault = Vault::new(ring(&format!("k1:{}", key(7))).unwrap());
        let sealed = vault
            .seal(ctx("api_key"), &SecretString::from("secret"))
            .unwrap();
        // Another field, another owner, another workspace.
        assert_eq!(
            vault.open_err(ctx("access_token"), &sealed),
            Err(VaultError::OpenFailed)
        );
        let moved = SealContext {
            owner_id: Uuid::from_u128(3),
            ..ctx("api_key")
        };
        assert_eq!(vault.open_err(moved, &sealed), Err(VaultError::OpenFailed));
        let other_ws = SealContext {
            workspace_id: Uuid::from_u128(9),
            ..ctx("api_key")
        };
        assert_eq!(
            vault.open_err(other_ws, &sealed),
            Err(VaultError::OpenFailed)
        );
        // Every single flipped bit.
        for i in 0..sealed.bytes.len() * 8 {
            let mut flipped = sealed.clone();
            flipped.bytes[i / 8] ^= 1 << (i % 8);
            assert_eq!(
                vault.open_err(ctx("api_key"), &flipped),
                Err(VaultError::OpenFailed),
                "bit {i}"
            );
        }
        // Truncated.
        for len in 0..sealed.bytes.len() {
            let truncated = Sealed {
                key_id: "k1".into(),
                bytes: sealed.bytes[..len].to_vec(),
            };
            assert_eq!(
                vault.open_err(ctx("api_key"), &truncated),
                Err(VaultError::OpenFailed)
            );
        }
        // Wrong key under the same id.
        let other = Vault::new(ring(&format!("k1:{}", key(8))).unwrap());
        assert_eq!(
            other.open_err(ctx("api_key"), &sealed),
            Err(VaultError::OpenFailed)
        );
        // Unknown key id.
        let missing = Vault::new(ring(&format!("k2:{}", key(7))).unwrap());
        assert_eq!(
            missing.open_err(ctx("api_key"), &sealed),
            Err(VaultError::UnknownKey("k1".into()))
        );
    }

    #[test]
    fn a_check_value_proves_its_key_and_names_only_the_id() {
        let right = Vault::new(ring(&format!("k1:{},k2:{}", key(1), key(2))).unwrap());
        let check = right.seal_check("k1").unwrap();
        assert_eq!(check.key_id, "k1");
        assert_eq!(check.nonce.len(), NONCE_LEN);
        assert!(!check.check_value.windows(5).any(|w| w == b"check"));
        assert_eq!(right.verify_check(&check), Ok(()));
        assert_ne!(right.seal_check("k1").unwrap().nonce, check.nonce);
        // Another key under the same id.
        let wrong = Vault::new(ring(&format!("k1:{}", key(9))).unwrap());
        let err = wrong.verify_check(&check).unwrap_err();
        assert_eq!(err, VaultError::KeyMismatch("k1".into()));
        let message = err.to_string();
        assert!(message.starts_with("JUNCTION_KEYS: key `k1` does not open"));
        assert!(!message.contains(&key(9)) && !message.contains(&key(1)));
        // A check value moved to another id does not open (the AAD binds the id).
        let moved = KeyCheck {
            key_id: "k2".into(),
            ..check.clone()
        };
        assert_eq!(
            right.verify_check(&moved),
            Err(VaultError::KeyMismatch("k2".into()))
        );
        // Tampering and truncation fail too.
        let mut flipped = check.clone();
        flipped.check_value[0] ^= 1;
        assert!(right.verify_check(&flipped).is_err());
        let truncated = KeyCheck {
            check_value: check.check_value[..8].to_vec(),
            ..check.clone()
        };
        assert!(right.verify_check(&truncated).is_err());
        assert_eq!(
            right.seal_check("k3").unwrap_err(),
            VaultError::UnknownKey("k3".into())
        );
        assert!(!format!("{check:?}").contains(&format!("{:?}", check.check_value)));
    }

    #[test]
    fn old_keys_open_and_the_first_key_seals() {
        let old = Vault::new(ring(&format!("old:{}", key(1))).unwrap());
        let sealed = old.seal(ctx("f"), &SecretString::from("v")).unwrap();
        let both = Vault::new(ring(&format!("new:{},old:{}", key(2), key(1))).unwrap());
        assert!(both.needs_reseal(&sealed));
        assert_eq!(both.open(ctx("f"), &sealed).unwrap().expose_secret(), "v");
        let resealed = both.seal(ctx("f"), &SecretString::from("v")).unwrap();
        assert_eq!(resealed.key_id, "new");
        assert!(!both.needs_reseal(&resealed));
    }
}
