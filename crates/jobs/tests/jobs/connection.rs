//! The queues' Redis connection fails fast while Redis is gone and heals by itself:
//! a push to a stopped Redis fails within the bound, the first push after a real
//! restart (a redis-server of the test's own, stopped and started again on its
//! port) succeeds, as does the first command after the connection was cut, and a
//! Redis that never answers is given up on within the timeout.

use std::{
    net::{SocketAddr, TcpListener},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use junction_jobs::{JobsError, Queues, RedisOptions};
use junction_store::models::Queue;
use junction_testkit::{TcpCut, url_addr};

use crate::support::Env;

/// A redis-server of this test's own on a free port, without persistence, so the
/// test can stop it and start it again without touching the shared one.
struct OwnRedis {
    port: u16,
    server: Option<Child>,
}

impl OwnRedis {
    async fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Self { port, server: None };
        redis.start_again().await;
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server on its port and waits (bounded) until it answers.
    async fn start_again(&mut self) {
        let server = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.server = Some(server);
        let client = redis::Client::open(self.url()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            {
                return;
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the server (as a crash would: nothing saved) and waits until it is gone.
    fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.kill().unwrap();
            server.wait().unwrap();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The "must show", on the queues every enqueue ends on: with Redis stopped
/// a push fails within 2 s (every time, not only the first), and after Redis
/// restarts the first push succeeds — on a server that lost everything, its
/// scripts included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_stopped_a_push_fails_fast_and_the_first_after_its_restart_succeeds() {
    let env = Env::new().await;
    let mut redis = OwnRedis::start().await;
    let queues = Queues::connect_with(
        &redis.url(),
        "junction-test:own",
        RedisOptions::within(Duration::from_secs(1)),
    )
    .await
    .unwrap();
    queues.enqueue(env.sync_job()).await.unwrap();

    redis.stop();
    for attempt in 1..=3 {
        let started = Instant::now();
        let result = queues.enqueue(env.sync_job()).await;
        let took = started.elapsed();
        eprintln!("push {attempt} with Redis stopped failed after {took:?}");
        assert!(matches!(result, Err(JobsError::Redis(_))), "{result:?}");
        assert!(
            took < Duration::from_secs(2),
            "push {attempt} took {took:?} to fail"
        );
    }

    redis.start_again().await;
    let started = Instant::now();
    let job_id = queues
        .enqueue(env.sync_job())
        .await
        .expect("the first push after the restart succeeds");
    eprintln!("first push after the restart took {:?}", started.elapsed());
    assert!(
        queues.lookup(Queue::Sync, &job_id).await.unwrap().is_some(),
        "the job is on its queue"
    );
}

/// A restart cuts the connection while nobody uses it: the next command meets the
/// dead socket, and is sent again on a new connection instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_command_after_the_connection_was_cut_succeeds() {
    let env = Env::new().await;
    let cut = TcpCut::start(url_addr(env.redis.url())).await;
    let queues = Queues::connect_with(
        &format!("redis://{}", cut.addr()),
        env.redis.prefix(),
        RedisOptions::within(Duration::from_secs(1)),
    )
    .await
    .unwrap();
    queues.ping().await.unwrap();
    cut.cut();
    // Let the forwarder drop the connection before Redis "comes back".
    tokio::time::sleep(Duration::from_millis(200)).await;
    cut.restore();
    queues
        .ping()
        .await
        .expect("the first command after the cut succeeds");
    let job_id = queues.enqueue(env.sync_job()).await.unwrap();
    assert!(queues.lookup(Queue::Sync, &job_id).await.unwrap().is_some());
}

/// A Redis that takes connections and never answers (a hung server, a network that
/// drops packets) is given up on within the timeout, with an error saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_never_answers_is_given_up_on_within_the_timeout() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = silent.local_addr().unwrap();
    // Accept and hold every connection, answering nothing.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let queues = Queues::lazy(
        &format!("redis://{addr}"),
        "junction-test:silent",
        RedisOptions::within(Duration::from_millis(300)),
    )
    .unwrap();
    for attempt in 1..=2 {
        let started = Instant::now();
        let error = queues.ping().await.unwrap_err();
        eprintln!(
            "ping {attempt} of a silent Redis failed after {:?}",
            started.elapsed()
        );
        assert!(
            error.to_string().contains("did not answer within 300 ms"),
            "{error}"
        );
    }
}
