//! The pool's bounds: a statement past the statement timeout is cancelled, and a
//! Postgres that went away (its connections cut) is reported as unavailable and,
//! once back, serves the very next request (stale pooled connections are checked
//! and replaced).

use std::time::Duration;

use diesel_async::SimpleAsyncConnection;
use junction_store::{DatabaseUrl, Store, StoreError, StoreOptions};
use junction_testkit::{TcpCut, TestDb, url_addr};

#[tokio::test]
async fn a_statement_past_the_statement_timeout_is_cancelled() {
    let db = TestDb::new().await;
    let store = Store::connect(
        db.url(),
        StoreOptions {
            max_connections: 2,
            statement_timeout: Some(Duration::from_millis(200)),
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap();
    let mut conn = store.unscoped().await.unwrap();
    let result = conn.batch_execute("SELECT pg_sleep(3)").await;
    let error = result.expect_err("the statement is cancelled");
    assert!(error.to_string().contains("statement timeout"), "{error}");
    // Answered as an outage (503 with Retry-After at the API), not as a defect.
    assert!(
        matches!(StoreError::from(error), StoreError::Unavailable(_)),
        "a timed-out statement is unavailability"
    );
    drop(conn);
    store.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_that_went_away_is_unavailable_and_the_first_request_after_it_works() {
    let db = TestDb::new().await;
    let server = url_addr(db.url().expose());
    let cut = TcpCut::start(server).await;
    let through_cut = DatabaseUrl::parse(
        db.url()
            .expose()
            .replace(&server.to_string(), &cut.addr().to_string()),
    )
    .unwrap();
    let store = Store::connect(
        &through_cut,
        StoreOptions {
            max_connections: 4,
            connect_timeout: Duration::from_secs(1),
            pool_timeout: Duration::from_secs(1),
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap();
    // Idle connections in the pool when Postgres goes away.
    let (a, b) = tokio::join!(store.unscoped(), store.unscoped());
    drop((a.unwrap(), b.unwrap()));

    cut.cut();
    for _ in 0..2 {
        let error = store.ping().await.unwrap_err();
        assert!(matches!(error, StoreError::Unavailable(_)), "{error}");
    }
    cut.restore();
    store
        .ping()
        .await
        .expect("the first request after Postgres is back works");
}
