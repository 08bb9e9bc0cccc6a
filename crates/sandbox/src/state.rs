//! The sandbox's mutable state: pending authorization codes, issued tokens, armed
//! faults and scripted token failures. Tokens and codes are keyed by their digest
//! (see [`crate::secret`]); nothing here is a usable credential.

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, Utc};
use junction_core::fake::{Fault, TokenStatus};
use serde::Serialize;

use crate::{
    GrantType, TokenFailure,
    secret::{TokenDigest, token_digest},
};

/// Identifies one authorization (a code exchange and every token descending from it),
/// so revoking a refresh token or replaying its code can revoke all of them.
pub(crate) type GrantId = u64;

/// A code handed out by the authorize endpoint, waiting to be exchanged.
#[derive(Clone)]
pub(crate) struct PendingCode {
    pub provider: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    /// The PKCE S256 challenge, when the authorize request carried one.
    pub code_challenge: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// An issued access token.
struct AccessToken {
    provider: String,
    scopes: Vec<String>,
    /// `None` for providers whose tokens never expire.
    expires_at: Option<DateTime<Utc>>,
    revoked: bool,
    grant: GrantId,
}

/// An issued refresh token.
#[derive(Clone)]
pub(crate) struct RefreshToken {
    pub provider: String,
    pub scopes: Vec<String>,
    pub grant: GrantId,
    revoked: bool,
}

/// A scripted token-endpoint failure with the number of requests it still answers.
struct ScriptedFailure {
    provider: String,
    grant_type: GrantType,
    failure: TokenFailure,
    remaining: u32,
}

/// What the token endpoint found for a presented code.
pub(crate) enum CodeLookup {
    /// A pending code of this provider; it is now used up.
    Found(PendingCode),
    /// A code that was already presented once.
    Replayed,
    /// Never issued, or issued for another provider.
    Unknown,
}

/// Everything that changes while the sandbox runs.
#[derive(Default)]
pub(crate) struct State {
    codes: HashMap<TokenDigest, PendingCode>,
    /// Codes presented once, with the grant their exchange created (if it succeeded).
    used_codes: HashMap<TokenDigest, Option<GrantId>>,
    access_tokens: HashMap<TokenDigest, AccessToken>,
    refresh_tokens: HashMap<TokenDigest, RefreshToken>,
    /// Per provider, runs of the same fault with how many requests they still hit.
    faults: HashMap<String, VecDeque<(Fault, u32)>>,
    /// Per provider, how long its fake waits before answering each request.
    latency: HashMap<String, std::time::Duration>,
    failures: Vec<ScriptedFailure>,
    last_grant: GrantId,
}

/// Counts of one provider's part of the state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProviderState {
    /// Access tokens issued since the last reset.
    pub access_tokens_issued: usize,
    /// Of those, how many are still valid.
    pub access_tokens_valid: usize,
    /// Of those, how many are revoked.
    pub access_tokens_revoked: usize,
    /// Refresh tokens that can still be used.
    pub refresh_tokens_active: usize,
    /// Authorization codes waiting to be exchanged (expired ones included).
    pub pending_codes: usize,
    /// Requests to the fake that will still get an injected fault.
    pub armed_faults: u32,
    /// Token requests that will still get a scripted failure.
    pub scripted_failures: u32,
    /// How long the fake waits before answering each request, in milliseconds.
    pub latency_millis: u64,
}

/// Counts of everything the sandbox holds, per provider (no token values).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SandboxState {
    pub providers: BTreeMap<String, ProviderState>,
}

impl State {
    /// Sets (or, with zero, clears) the delay of every answer of a provider's fake.
    pub fn set_latency(&mut self, provider: &str, latency: std::time::Duration) {
        if latency.is_zero() {
            self.latency.remove(provider);
        } else {
            self.latency.insert(provider.to_owned(), latency);
        }
    }

    /// The delay of a provider's fake, if one is set.
    pub fn latency(&self, provider: &str) -> Option<std::time::Duration> {
        self.latency.get(provider).copied()
    }

    pub fn arm_fault(&mut self, provider: &str, fault: Fault, count: u32) {
        self.faults
            .entry(provider.to_owned())
            .or_default()
            .push_back((fault, count));
    }

    /// The next armed fault of the provider, used up.
    pub fn take_fault(&mut self, provider: &str) -> Option<Fault> {
        let queue = self.faults.get_mut(provider)?;
        let (fault, remaining) = queue.front_mut()?;
        let fault = *fault;
        *remaining = remaining.saturating_sub(1);
        if *remaining == 0 {
            queue.pop_front();
        }
        Some(fault)
    }

    pub fn script_failure(
        &mut self,
        provider: &str,
        grant_type: GrantType,
        failure: TokenFailure,
        count: u32,
    ) {
        self.failures.push(ScriptedFailure {
            provider: provider.to_owned(),
            grant_type,
            failure,
            remaining: count,
        });
    }

    /// The next scripted failure for a token request, used up.
    pub fn take_failure(&mut self, provider: &str, grant_type: GrantType) -> Option<TokenFailure> {
        let index = self
            .failures
            .iter()
            .position(|f| f.provider == provider && f.grant_type == grant_type)?;
        let scripted = &mut self.failures[index];
        let failure = scripted.failure;
        scripted.remaining = scripted.remaining.saturating_sub(1);
        if scripted.remaining == 0 {
            self.failures.remove(index);
        }
        Some(failure)
    }

    pub fn insert_code(&mut self, code: &str, pending: PendingCode) {
        self.codes.insert(token_digest(code), pending);
    }

    /// Looks a code up for exchange and uses it up: a code is good for one attempt.
    pub fn take_code(&mut self, provider: &str, code: &str) -> CodeLookup {
        let digest = token_digest(code);
        if self.used_codes.contains_key(&digest) {
            return CodeLookup::Replayed;
        }
        match self.codes.get(&digest) {
            Some(pending) if pending.provider == provider => {}
            _ => return CodeLookup::Unknown,
        }
        match self.codes.remove(&digest) {
            Some(pending) => {
                self.used_codes.insert(digest, None);
                CodeLookup::Found(pending)
            }
            None => CodeLookup::Unknown,
        }
    }

    /// Records the grant a code's exchange created, so a replay can revoke it.
    pub fn bind_code_to_grant(&mut self, code: &str, grant: GrantId) {
        self.used_codes.insert(token_digest(code), Some(grant));
    }

    /// Revokes what a replayed code's first exchange issued (RFC 6749 section 4.1.2).
    /// Returns whether there was a grant to revoke.
    pub fn revoke_replayed_code(&mut self, code: &str) -> bool {
        match self.used_codes.get(&token_digest(code)) {
            Some(Some(grant)) => {
                let grant = *grant;
                self.revoke_grant(grant);
                true
            }
            _ => false,
        }
    }

    pub fn new_grant(&mut self) -> GrantId {
        self.last_grant += 1;
        self.last_grant
    }

    pub fn issue_access_token(
        &mut self,
        token: &str,
        provider: &str,
        scopes: &[String],
        expires_at: Option<DateTime<Utc>>,
        grant: GrantId,
    ) {
        self.access_tokens.insert(
            token_digest(token),
            AccessToken {
                provider: provider.to_owned(),
                scopes: scopes.to_vec(),
                expires_at,
                revoked: false,
                grant,
            },
        );
    }

    pub fn issue_refresh_token(
        &mut self,
        token: &str,
        provider: &str,
        scopes: &[String],
        grant: GrantId,
    ) {
        self.refresh_tokens.insert(
            token_digest(token),
            RefreshToken {
                provider: provider.to_owned(),
                scopes: scopes.to_vec(),
                grant,
                revoked: false,
            },
        );
    }

    /// A usable refresh token of this provider.
    pub fn active_refresh_token(&self, provider: &str, token: &str) -> Option<RefreshToken> {
        self.refresh_tokens
            .get(&token_digest(token))
            .filter(|rt| rt.provider == provider && !rt.revoked)
            .cloned()
    }

    /// Invalidates one refresh token (rotation), leaving its grant's access tokens.
    pub fn retire_refresh_token(&mut self, token: &str) {
        if let Some(rt) = self.refresh_tokens.get_mut(&token_digest(token)) {
            rt.revoked = true;
        }
    }

    /// RFC 7009 revocation of an access or refresh token of this provider. Revoking a
    /// refresh token revokes its grant's access tokens too. Returns whether the token
    /// was known.
    pub fn revoke_token(&mut self, provider: &str, token: &str) -> bool {
        let digest = token_digest(token);
        if let Some(at) = self
            .access_tokens
            .get_mut(&digest)
            .filter(|at| at.provider == provider)
        {
            at.revoked = true;
            return true;
        }
        let grant = match self.refresh_tokens.get_mut(&digest) {
            Some(rt) if rt.provider == provider => {
                rt.revoked = true;
                rt.grant
            }
            _ => return false,
        };
        for at in self
            .access_tokens
            .values_mut()
            .filter(|at| at.grant == grant)
        {
            at.revoked = true;
        }
        true
    }

    /// Revokes every token of a grant.
    fn revoke_grant(&mut self, grant: GrantId) {
        for at in self
            .access_tokens
            .values_mut()
            .filter(|at| at.grant == grant)
        {
            at.revoked = true;
        }
        for rt in self
            .refresh_tokens
            .values_mut()
            .filter(|rt| rt.grant == grant)
        {
            rt.revoked = true;
        }
    }

    /// Makes every access token of the provider expired as of `now`.
    pub fn expire_access_tokens(&mut self, provider: &str, now: DateTime<Utc>) -> usize {
        let mut expired = 0;
        for at in self
            .access_tokens
            .values_mut()
            .filter(|at| at.provider == provider)
        {
            at.expires_at = Some(now);
            expired += 1;
        }
        expired
    }

    /// The scopes and grant of a valid (issued, unexpired, unrevoked) access token of
    /// this provider.
    pub fn valid_access_token(
        &self,
        provider: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Option<(Vec<String>, GrantId)> {
        self.access_tokens
            .get(&token_digest(token))
            .filter(|at| {
                at.provider == provider
                    && !at.revoked
                    && at.expires_at.is_none_or(|expiry| expiry > now)
            })
            .map(|at| (at.scopes.clone(), at.grant))
    }

    pub fn check_access_token(
        &self,
        provider: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> TokenStatus {
        match self.access_tokens.get(&token_digest(token)) {
            Some(at) if at.provider == provider => {
                if at.revoked || at.expires_at.is_some_and(|expiry| expiry <= now) {
                    TokenStatus::Expired
                } else {
                    TokenStatus::Valid {
                        scopes: at.scopes.clone(),
                    }
                }
            }
            _ => TokenStatus::Unknown,
        }
    }

    pub fn provider_counts(&self, provider: &str, now: DateTime<Utc>) -> ProviderState {
        let access: Vec<&AccessToken> = self
            .access_tokens
            .values()
            .filter(|at| at.provider == provider)
            .collect();
        ProviderState {
            access_tokens_issued: access.len(),
            access_tokens_valid: access
                .iter()
                .filter(|at| !at.revoked && at.expires_at.is_none_or(|expiry| expiry > now))
                .count(),
            access_tokens_revoked: access.iter().filter(|at| at.revoked).count(),
            refresh_tokens_active: self
                .refresh_tokens
                .values()
                .filter(|rt| rt.provider == provider && !rt.revoked)
                .count(),
            pending_codes: self
                .codes
                .values()
                .filter(|code| code.provider == provider)
                .count(),
            armed_faults: self
                .faults
                .get(provider)
                .map(|queue| queue.iter().map(|(_, n)| n).sum())
                .unwrap_or(0),
            scripted_failures: self
                .failures
                .iter()
                .filter(|f| f.provider == provider)
                .map(|f| f.remaining)
                .sum(),
            latency_millis: self
                .latency(provider)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_consumed_in_order_and_exactly_counted() {
        let mut state = State::default();
        state.arm_fault("p", Fault::ServerError, 2);
        state.arm_fault("p", Fault::QuotaExhausted, 1);
        assert_eq!(state.provider_counts("p", Utc::now()).armed_faults, 3);
        assert_eq!(state.take_fault("p"), Some(Fault::ServerError));
        assert_eq!(state.take_fault("p"), Some(Fault::ServerError));
        assert_eq!(state.take_fault("p"), Some(Fault::QuotaExhausted));
        assert_eq!(state.take_fault("p"), None);
        assert_eq!(state.take_fault("other"), None);
    }

    #[test]
    fn failures_match_provider_and_grant_type() {
        let mut state = State::default();
        state.script_failure("p", GrantType::RefreshToken, TokenFailure::ServerError, 1);
        assert_eq!(state.take_failure("p", GrantType::AuthorizationCode), None);
        assert_eq!(state.take_failure("q", GrantType::RefreshToken), None);
        assert_eq!(
            state.take_failure("p", GrantType::RefreshToken),
            Some(TokenFailure::ServerError)
        );
        assert_eq!(state.take_failure("p", GrantType::RefreshToken), None);
    }

    #[test]
    fn revoking_a_refresh_token_revokes_its_grants_access_tokens() {
        let mut state = State::default();
        let now = Utc::now();
        let grant = state.new_grant();
        let other = state.new_grant();
        let scopes = vec!["read".to_owned()];
        state.issue_access_token("at1", "p", &scopes, None, grant);
        state.issue_access_token("at2", "p", &scopes, None, other);
        state.issue_refresh_token("rt1", "p", &scopes, grant);
        assert!(!state.revoke_token("q", "rt1"), "another provider's token");
        assert!(state.revoke_token("p", "rt1"));
        assert_eq!(
            state.check_access_token("p", "at1", now),
            TokenStatus::Expired
        );
        assert_eq!(
            state.check_access_token("p", "at2", now),
            TokenStatus::Valid { scopes }
        );
        assert!(state.active_refresh_token("p", "rt1").is_none());
        assert_eq!(
            state.check_access_token("q", "at2", now),
            TokenStatus::Unknown
        );
    }
}
