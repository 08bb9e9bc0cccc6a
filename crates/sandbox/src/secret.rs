//! Random opaque tokens and the comparisons done on secrets (client secret, PKCE).
//!
//! The state never holds a token or code itself, only its SHA-256 digest, so nothing
//! the sandbox keeps (or could print) is a usable credential.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ring::{
    digest::{SHA256, digest},
    rand::{SecureRandom, SystemRandom},
};

/// The SHA-256 digest of a token or code: the key it is stored under.
pub(crate) type TokenDigest = [u8; 32];

/// Random bytes per token (256 bits).
const TOKEN_BYTES: usize = 32;

/// The kinds of opaque strings the fake OAuth server hands out.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TokenKind {
    Code,
    Access,
    Refresh,
}

impl TokenKind {
    fn tag(self) -> &'static str {
        match self {
            TokenKind::Code => "code",
            TokenKind::Access => "at",
            TokenKind::Refresh => "rt",
        }
    }
}

/// The random source failed (the OS refused entropy).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RandomUnavailable;

/// A new random token, prefixed with the provider and kind so a human reading logs of
/// the client can tell them apart: `google-analytics_at_<43 url-safe chars>`.
pub(crate) fn new_token(provider: &str, kind: TokenKind) -> Result<String, RandomUnavailable> {
    let mut bytes = [0u8; TOKEN_BYTES];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| RandomUnavailable)?;
    Ok(format!(
        "{provider}_{}_{}",
        kind.tag(),
        URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// The digest a token or code is stored under.
pub(crate) fn token_digest(token: &str) -> TokenDigest {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    out
}

/// Whether two secrets are equal, comparing their digests so the time taken does not
/// depend on where the presented value first differs.
pub(crate) fn same_secret(presented: &str, expected: &str) -> bool {
    token_digest(presented) == token_digest(expected)
}

/// Whether a PKCE code verifier or S256 challenge has the RFC 7636 form: 43 to 128
/// characters from `[A-Za-z0-9-._~]`.
pub(crate) fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `BASE64URL(SHA256(verifier)) == challenge` (RFC 7636 S256).
pub(crate) fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
    same_secret(&computed, challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_url_safe() {
        let a = new_token("acme", TokenKind::Access).unwrap();
        let b = new_token("acme", TokenKind::Access).unwrap();
        assert_ne!(a, b);
        let random = a.strip_prefix("acme_at_").unwrap();
        assert_eq!(random.len(), 43);
        assert!(
            random
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn s256_matches_the_rfc_7636_example() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(is_pkce_value(verifier));
        assert!(pkce_s256_matches(verifier, challenge));
        assert!(!pkce_s256_matches("x".repeat(43).as_str(), challenge));
        assert!(!is_pkce_value("short"));
        assert!(!is_pkce_value(&format!("{}!", "a".repeat(43))));
    }
}
