// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The shared provider budget: two limiters on one prefix share it, a full window
//! pauses instead of failing, `observe` blocks until the provider's reset, and the
//! first check after Redis comes back counts.

use std::time::{Duration, Instant};

use chrono::Utc;
use junction_core::{AdapterError, RateBudget, RateLimiter, http::RateLimitInfo};
use junction_jobs::{RedisConnection, RedisOptions};
use junction_ratelimit::RedisRateLimiter;
use junction_testkit::{TcpCut, TestRedis, url_addr};

/// A limiter on a connection of its own, built as a process builds its one (with
/// junction-jobs' bounded, self-healing connection).
async fn limiter(url: &str, prefix: &str, max_wait: Duration) -> RedisRateLimiter<RedisConnection> {
    let conn = RedisConnection::connect(url, RedisOptions::within(Duration::from_secs(2)))
        .await
        .unwrap();
    RedisRateLimiter::sharing(conn, prefix, max_wait)
}

fn budget(requests: u32, per: Duration) -> RateBudget {
    RateBudget {
        requests,
        per,
        concurrency: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_limiters_share_one_budget_and_the_sixth_request_waits_for_the_window() {
    let redis = TestRedis::new().await;
    let a = limiter(redis.url(), redis.prefix(), Duration::from_secs(10)).await;
    let b = limiter(redis.url(), redis.prefix(), Duration::from_secs(10)).await;
    let budget = budget(5, Duration::from_secs(2));
    let started = Instant::now();
    for limiter in [&a, &a, &a, &b, &b] {
        limiter.acquire("stripe", &budget).await.unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the first five fit in the budget"
    );
    b.acquire("stripe", &budget).await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1950),
        "the sixth request ran after {waited:?}, inside the first window"
    );
    assert!(waited < Duration::from_secs(5), "{waited:?}");

    // Other providers have their own budget.
    let other = Instant::now();
    a.acquire("resend", &budget).await.unwrap();
    assert!(other.elapsed() < Duration::from_millis(500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_longer_than_max_wait_is_rate_limited() {
    let redis = TestRedis::new().await;
    let patient = limiter(redis.url(), redis.prefix(), Duration::from_secs(10)).await;
    let hurried = limiter(redis.url(), redis.prefix(), Duration::from_millis(100)).await;
    let budget = budget(2, Duration::from_secs(3));
    patient.acquire("hubspot", &budget).await.unwrap();
    patient.acquire("hubspot", &budget).await.unwrap();
    let started = Instant::now();
    let result = hurried.acquire("hubspot", &budget).await;
    assert!(started.elapsed() < Duration::from_secs(1));
    match result {
        Err(AdapterError::RateLimited {
            retry_after: Some(wait),
        }) => assert!(
            wait > Duration::from_millis(100) && wait <= Duration::from_secs(3),
            "{wait:?}"
        ),
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_with_nothing_remaining_blocks_until_the_reset_everywhere() {
    let redis = TestRedis::new().await;
    let a = limiter(redis.url(), redis.prefix(), Duration::from_secs(10)).await;
    let b = limiter(redis.url(), redis.prefix(), Duration::from_secs(10)).await;
    let generous = budget(1000, Duration::from_secs(60));
    let reset_at = Utc::now() + chrono::Duration::milliseconds(1500);
    a.observe(
        "mailchimp",
        &RateLimitInfo {
            limit: Some(100),
            remaining: Some(0),
            reset_at: Some(reset_at),
            retry_after: None,
        },
    );
    // The block reaches the other pod through Redis.
    let deadline = Instant::now() + Duration::from_secs(1);
    while b.blocked_until("mailchimp").await.unwrap().is_none() {
        assert!(Instant::now() < deadline, "the block never reached Redis");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (ra, rb) = tokio::join!(
        async {
            a.acquire("mailchimp", &generous).await.unwrap();
            Utc::now()
        },
        async {
            b.acquire("mailchimp", &generous).await.unwrap();
            Utc::now()
        }
    );
    assert!(
        ra >= reset_at,
        "acquired at {ra}, before the reset at {reset_at}"
    );
    assert!(
        rb >= reset_at - chrono::Duration::milliseconds(5),
        "acquired at {rb}"
    );

    // Remaining requests left: nothing is blocked.
    a.observe(
        "kit",
        &RateLimitInfo {
            limit: Some(100),
            remaining: Some(10),
            reset_at: Some(Utc::now() + chrono::Duration::seconds(30)),
            retry_after: None,
        },
    );
    let started = Instant::now();
    a.acquire("kit", &generous).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_blocks_and_a_far_block_fails_fast() {
    let redis = TestRedis::new().await;
    let limiter = limiter(redis.url(), redis.prefix(), Duration::from_secs(2)).await;
    limiter.observe(
        "meta-ads",
        &RateLimitInfo {
            retry_after: Some(Duration::from_secs(60)),
            ..RateLimitInfo::default()
        },
    );
    let started = Instant::now();
    match limiter
        .acquire("meta-ads", &budget(100, Duration::from_secs(1)))
        .await
    {
        Err(AdapterError::RateLimited {
            retry_after: Some(wait),
        }) => assert!(wait > Duration::from_secs(55), "{wait:?}"),
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_millis(500));
}

/// After Redis comes back (its connections were cut, as a restart cuts them), the
/// very next check reaches it and counts against the budget, instead of failing on
/// the dead connection and letting the request through blind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_check_after_redis_comes_back_counts() {
    let redis = TestRedis::new().await;
    let cut = TcpCut::start(url_addr(redis.url())).await;
    let limiter = limiter(
        &format!("redis://{}", cut.addr()),
        redis.prefix(),
        Duration::from_millis(100),
    )
    .await;
    let budget = budget(1, Duration::from_secs(60));
    limiter.acquire("stripe", &budget).await.unwrap();
    cut.cut();
    // Let the forwarder drop the connection before Redis "comes back".
    tokio::time::sleep(Duration::from_millis(200)).await;
    cut.restore();
    match limiter.acquire("stripe", &budget).await {
        Err(AdapterError::RateLimited { .. }) => {}
        other => panic!("the first check after the restart did not reach Redis: {other:?}"),
    }
}
