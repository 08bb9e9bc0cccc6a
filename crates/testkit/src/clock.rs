//! [`ManualClock`]: a clock that stands still until the test moves it, for use
//! cases that take the application's clock (schedules, token expiry, webhook
//! tolerances): a test pins "now" and advances it instead of waiting.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};
use junction_core::Clock;

/// A clock the test sets and advances.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock standing at `at`, cut to Postgres's precision (microseconds), so a
    /// time it gave and the same time read back from the database compare equal.
    pub fn starting_at(at: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self(Mutex::new(to_micros(at))))
    }

    /// Sets the clock to `at` (to the microsecond); returns it.
    pub fn set(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now = to_micros(at);
        *now
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) -> DateTime<Utc> {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
        *now
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_stands_still_until_advanced() {
        let start = Utc::now();
        let clock = ManualClock::starting_at(start);
        let first = clock.now();
        assert_eq!(first.timestamp_micros(), start.timestamp_micros());
        assert_eq!(clock.now(), first);
        assert_eq!(
            clock.advance(Duration::hours(1)),
            first + Duration::hours(1)
        );
        assert_eq!(clock.now(), first + Duration::hours(1));
        assert_eq!(clock.set(start), first);
        assert_eq!(clock.now(), first);
    }
}
