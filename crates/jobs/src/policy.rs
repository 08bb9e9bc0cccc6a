//! [`RetryPolicy`]: Junction's own retry decision.
//!
//! The runner never lets a handler failure reach apalis (a task that fails in apalis
//! is one whose outcome the runner could not record, and is simply run again): it
//! asks this policy and either schedules the next attempt, dead-letters the job, or
//! stops.
//!
//! Backoff is exponential with *full jitter*: the delay after attempt `n` is drawn
//! uniformly from `[0, min(cap, base * 2^(n-1))]`, which spreads a burst of failures
//! (one provider outage hitting many tenants) instead of retrying them in lockstep.
//! A provider's own hint (`Retry-After`, a quota reset) is a floor: the retry is at
//! `max(now + delay, not_before)`.
//!
//! A queue may instead retry on a fixed [`RetrySchedule`] (the outbound webhook
//! deliveries follow Svix's): the delay after each failed attempt is given, without
//! jitter, and the job is dead-lettered when the schedule's last attempt fails.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::failure::{FailureKind, JobFailure};

/// The retry policy: exponential backoff with full jitter and an attempt limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The backoff ceiling after the first failure.
    pub base: Duration,
    /// No backoff ceiling grows past this.
    pub cap: Duration,
    /// Attempts in all, the first included; the job is dead-lettered when attempt
    /// `max_attempts` fails.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// 8 attempts, backoff ceilings 5 s, 10 s, 20 s ... capped at 10 minutes.
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            cap: Duration::from_secs(600),
            max_attempts: 8,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Run the next attempt at this time.
    RetryAt(DateTime<Utc>),
    /// Keep the job in the dead-letter table and stop.
    DeadLetter,
    /// Stop, without a dead letter.
    Abandon,
    /// Not a failure: deliver the job again at this time, without counting an
    /// attempt.
    Defer(DateTime<Utc>),
}

impl RetryPolicy {
    /// The largest delay full jitter may pick after the 1-based `attempt` failed:
    /// `min(cap, base * 2^(attempt-1))`.
    pub fn backoff_ceiling(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(31);
        self.base.saturating_mul(1u32 << exponent).min(self.cap)
    }

    /// Decides what follows the failure of the 1-based `attempt`. Full jitter: delay
    /// = uniform(0, [`Self::backoff_ceiling`]); the retry is at `max(now + delay,
    /// not_before)`. Permanent -> DeadLetter; Abandon -> Abandon; a retryable failure
    /// of attempt `max_attempts` (or later) -> DeadLetter.
    pub fn decide(
        &self,
        attempt: u32,
        failure: &JobFailure,
        now: DateTime<Utc>,
        rng: &mut impl rand::Rng,
    ) -> Decision {
        let not_before = match failure.kind {
            FailureKind::Permanent => return Decision::DeadLetter,
            FailureKind::Abandon => return Decision::Abandon,
            FailureKind::Deferred { until } => return Decision::Defer(until),
            FailureKind::Retryable { not_before } => not_before,
        };
        if attempt >= self.max_attempts {
            return Decision::DeadLetter;
        }
        let ceiling = self.backoff_ceiling(attempt);
        let ceiling_nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        let delay = Duration::from_nanos(rng.random_range(0..=ceiling_nanos));
        let jittered = chrono::Duration::from_std(delay)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        Decision::RetryAt(match not_before {
            Some(floor) if floor > jittered => floor,
            _ => jittered,
        })
    }
}

/// Fixed delays between attempts: `delays[n - 1]` after attempt `n` fails, so a
/// job gets `delays.len() + 1` attempts in all before it is dead-lettered.
/// Permanent, abandoned and deferred failures are decided as [`RetryPolicy`]
/// decides them; a failure's `not_before` is a floor here too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

impl RetrySchedule {
    /// The schedule with these delays after attempts 1, 2, ...
    pub fn new(delays: Vec<Duration>) -> Self {
        Self { delays }
    }

    /// The delays after attempts 1, 2, ...
    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    /// Attempts in all, the first included.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.delays.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    }

    /// Decides what follows the failure of the 1-based `attempt`.
    pub fn decide(&self, attempt: u32, failure: &JobFailure, now: DateTime<Utc>) -> Decision {
        let not_before = match failure.kind {
            FailureKind::Permanent => return Decision::DeadLetter,
            FailureKind::Abandon => return Decision::Abandon,
            FailureKind::Deferred { until } => return Decision::Defer(until),
            FailureKind::Retryable { not_before } => not_before,
        };
        let Some(delay) = usize::try_from(attempt)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|index| self.delays.get(index))
        else {
            return Decision::DeadLetter;
        };
        let at = chrono::Duration::from_std(*delay)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        Decision::RetryAt(match not_before {
            Some(floor) if floor > at => floor,
            _ => at,
        })
    }
}

#[cfg(test)]
mod tests {
    use junction_core::ErrorCode;
    use rand::{SeedableRng, rngs::StdRng};

    use super::*;

    #[test]
    fn ceilings_double_then_cap() {
        let policy = RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(10),
            max_attempts: 100,
        };
        let ceilings: Vec<u64> = (1..=6)
            .map(|n| policy.backoff_ceiling(n).as_secs())
            .collect();
        assert_eq!(ceilings, vec![1, 2, 4, 8, 10, 10]);
        assert_eq!(policy.backoff_ceiling(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn a_schedule_retries_at_its_delays_then_dead_letters() {
        let schedule = RetrySchedule::new(vec![Duration::from_secs(5), Duration::from_secs(300)]);
        assert_eq!(schedule.max_attempts(), 3);
        let now = Utc::now();
        let failure = JobFailure::retryable(ErrorCode::ProviderUnavailable, "HTTP 503");
        assert_eq!(
            schedule.decide(1, &failure, now),
            Decision::RetryAt(now + chrono::Duration::seconds(5))
        );
        assert_eq!(
            schedule.decide(2, &failure, now),
            Decision::RetryAt(now + chrono::Duration::seconds(300))
        );
        assert_eq!(schedule.decide(3, &failure, now), Decision::DeadLetter);
        assert_eq!(schedule.decide(0, &failure, now), Decision::DeadLetter);
        let later = now + chrono::Duration::hours(1);
        let hinted = JobFailure::retryable_after(ErrorCode::ProviderRateLimited, "429", later);
        assert_eq!(schedule.decide(1, &hinted, now), Decision::RetryAt(later));
        let permanent = JobFailure::permanent(ErrorCode::ProviderRejected, "no");
        assert_eq!(schedule.decide(1, &permanent, now), Decision::DeadLetter);
        let abandoned = JobFailure::abandon(ErrorCode::NotFound, "gone");
        assert_eq!(schedule.decide(1, &abandoned, now), Decision::Abandon);
    }

    #[test]
    fn huge_not_before_is_kept() {
        let policy = RetryPolicy::default();
        let now = Utc::now();
        let reset = now + chrono::Duration::days(1);
        let failure =
            JobFailure::retryable_after(ErrorCode::ProviderQuotaExhausted, "quota", reset);
        let mut rng = StdRng::seed_from_u64(7);
        assert_eq!(
            policy.decide(1, &failure, now, &mut rng),
            Decision::RetryAt(reset)
        );
    }
}
