//! The retry policy: full-jitter bounds, provider hints as a floor, the attempt
//! limit, permanent and abandoned failures.

use std::time::Duration;

use chrono::{DateTime, Utc};
use junction_core::ErrorCode;
use junction_jobs::{Decision, JobFailure, RetryPolicy};
use proptest::prelude::*;
use rand::{SeedableRng, rngs::StdRng};

fn retryable() -> JobFailure {
    JobFailure::retryable(ErrorCode::ProviderUnavailable, "HTTP 503")
}

fn retry_delay(decision: Decision, now: DateTime<Utc>) -> Duration {
    match decision {
        Decision::RetryAt(at) => (at - now).to_std().expect("a retry before now"),
        other => panic!("expected a retry, got {other:?}"),
    }
}

fn ceiling(base_ms: u64, cap_ms: u64, attempt: u32) -> Duration {
    let exponential = base_ms.saturating_mul(1u64 << (attempt - 1).min(40));
    Duration::from_millis(exponential.min(cap_ms))
}

proptest! {
    #[test]
    fn delays_stay_within_the_full_jitter_range(
        base_ms in 1u64..5_000,
        cap_ms in 1u64..3_600_000,
        attempt in 1u32..40,
        seed in any::<u64>(),
    ) {
        let policy = RetryPolicy {
            base: Duration::from_millis(base_ms),
            cap: Duration::from_millis(cap_ms),
            max_attempts: 50,
        };
        let now = Utc::now();
        let mut rng = StdRng::seed_from_u64(seed);
        let delay = retry_delay(policy.decide(attempt, &retryable(), now, &mut rng), now);
        prop_assert!(delay <= ceiling(base_ms, cap_ms, attempt), "{delay:?} above the ceiling");
    }

    #[test]
    fn retries_never_run_before_not_before(
        base_ms in 1u64..5_000,
        cap_ms in 1u64..600_000,
        attempt in 1u32..20,
        not_before_ms in 0i64..7_200_000,
        seed in any::<u64>(),
    ) {
        let policy = RetryPolicy {
            base: Duration::from_millis(base_ms),
            cap: Duration::from_millis(cap_ms),
            max_attempts: 30,
        };
        let now = Utc::now();
        let not_before = now + chrono::Duration::milliseconds(not_before_ms);
        let failure = JobFailure::retryable_after(ErrorCode::ProviderRateLimited, "429", not_before);
        let mut rng = StdRng::seed_from_u64(seed);
        let Decision::RetryAt(at) = policy.decide(attempt, &failure, now, &mut rng) else {
            panic!("expected a retry");
        };
        prop_assert!(at >= not_before);
        // The hint is a floor, not an addition: the retry is max(jittered, not_before).
        let latest = (now + chrono::Duration::from_std(ceiling(base_ms, cap_ms, attempt)).unwrap()).max(not_before);
        prop_assert!(at <= latest);
    }

    #[test]
    fn permanent_failures_dead_letter_at_any_attempt(attempt in 1u32..100, seed in any::<u64>()) {
        let policy = RetryPolicy::default();
        let failure = JobFailure::permanent(ErrorCode::ProviderRejected, "bad property id");
        let mut rng = StdRng::seed_from_u64(seed);
        prop_assert_eq!(policy.decide(attempt, &failure, Utc::now(), &mut rng), Decision::DeadLetter);
    }

    #[test]
    fn the_attempt_limit_is_respected(max_attempts in 1u32..30, attempt in 1u32..60, seed in any::<u64>()) {
        let policy = RetryPolicy { max_attempts, ..RetryPolicy::default() };
        let mut rng = StdRng::seed_from_u64(seed);
        let decision = policy.decide(attempt, &retryable(), Utc::now(), &mut rng);
        if attempt >= max_attempts {
            prop_assert_eq!(decision, Decision::DeadLetter);
        } else {
            prop_assert!(matches!(decision, Decision::RetryAt(_)));
        }
    }
}

#[test]
fn permanent_dead_letters_on_the_first_attempt() {
    let mut rng = StdRng::seed_from_u64(1);
    let failure = JobFailure::permanent(ErrorCode::ProviderRejected, "invalid");
    assert_eq!(
        RetryPolicy::default().decide(1, &failure, Utc::now(), &mut rng),
        Decision::DeadLetter
    );
}

#[test]
fn abandon_stops_without_a_dead_letter() {
    let mut rng = StdRng::seed_from_u64(1);
    let failure = JobFailure::abandon(ErrorCode::IntegrationNeedsReauth, "grant revoked");
    for attempt in [1, 5, 100] {
        assert_eq!(
            RetryPolicy::default().decide(attempt, &failure, Utc::now(), &mut rng),
            Decision::Abandon
        );
    }
}

#[test]
fn delays_spread_over_the_whole_range() {
    // Full jitter draws from [0, ceiling]: over many draws both ends are reached. A
    // policy without jitter, or with "equal jitter" (ceiling/2 + random), fails this.
    let policy = RetryPolicy {
        base: Duration::from_secs(1),
        cap: Duration::from_secs(60),
        max_attempts: 10,
    };
    let now = Utc::now();
    let mut rng = StdRng::seed_from_u64(42);
    let ceiling = Duration::from_secs(8); // attempt 4: 1 s * 2^3
    let delays: Vec<Duration> = (0..2_000)
        .map(|_| retry_delay(policy.decide(4, &retryable(), now, &mut rng), now))
        .collect();
    let min = delays.iter().min().unwrap();
    let max = delays.iter().max().unwrap();
    assert!(*min < ceiling / 20, "smallest delay {min:?}");
    assert!(*max > ceiling * 19 / 20, "largest delay {max:?}");
    assert!(delays.iter().all(|d| *d <= ceiling));
}

#[test]
fn the_cap_bounds_late_attempts() {
    let policy = RetryPolicy {
        base: Duration::from_secs(1),
        cap: Duration::from_secs(5),
        max_attempts: 100,
    };
    let now = Utc::now();
    let mut rng = StdRng::seed_from_u64(3);
    for attempt in [10, 31, 32, 64, 99] {
        let delay = retry_delay(policy.decide(attempt, &retryable(), now, &mut rng), now);
        assert!(
            delay <= Duration::from_secs(5),
            "attempt {attempt}: {delay:?}"
        );
    }
}
