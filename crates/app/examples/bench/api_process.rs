//! The API as the webhook and API figures measure it: the release `junction-api`
//! binary in its own process, configured through the environment like a deployment
//! (every setting the default but the address, port 0, which it reports back).

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use junction_testkit::TestRedis;
use tokio::process::Child;

use crate::{
    fixture::Fixture,
    worker_process::{release_binary, spawn_ready, terminate},
};

/// The release API beside this example, unless `--api` names another.
pub fn binary(option: Option<&Path>) -> Result<PathBuf> {
    release_binary(option, "junction-api", "--api")
}

/// A running API process, killed if dropped before [`ApiProcess::stop`].
pub struct ApiProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub url: String,
    /// Its Redis key prefix (rate limits); its keys are deleted when dropped.
    _redis: TestRedis,
}

impl ApiProcess {
    /// Starts the API on the fixture's database on a port of the system's choosing;
    /// returns once it listens. Its log goes to `target/bench/api-{figure}.log`.
    pub async fn start(binary: &Path, fixture: &Fixture, figure: &str) -> Result<Self> {
        let redis = TestRedis::new().await;
        let (child, _, line) = spawn_ready(
            binary,
            fixture,
            &redis,
            &format!("api-{figure}"),
            &[("JUNCTION_BIND", "127.0.0.1:0")],
            "listening on",
        )
        .await?;
        // `junction-api listening on http://127.0.0.1:PORT`
        let url = line
            .split_once("listening on ")
            .map(|(_, url)| url.trim().trim_end_matches('/').to_owned())
            .ok_or_else(|| anyhow!("unexpected first line from the API: {line}"))?;
        Ok(Self {
            child,
            url,
            _redis: redis,
        })
    }

    pub fn pid(&self) -> Result<u32> {
        self.child
            .id()
            .ok_or_else(|| anyhow!("the API has already exited"))
    }

    /// SIGTERM, SIGKILL after a grace period.
    pub async fn stop(mut self) {
        terminate(&mut self.child).await;
    }
}
