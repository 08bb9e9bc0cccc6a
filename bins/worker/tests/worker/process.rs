//! A `junction-worker` process for the process-level tests: started from the built
//! binary with an environment, waited for until ready (at once, or later: a worker
//! waiting for Redis), killed or terminated, its log and metrics read.

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::{ExitStatus, Stdio},
    time::Duration,
};

use secrecy::ExposeSecret;
use tokio::{
    io::{AsyncBufReadExt, BufReader, Lines},
    process::{Child, ChildStdout, Command},
};
use uuid::Uuid;

use crate::support::TestEnv;

impl TestEnv {
    /// The environment of a `junction-worker` process: [`Self::settings`] with
    /// `overrides` on top.
    pub fn process_env(&self, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = vec![
            ("DATABASE_URL".to_owned(), self.db.url().expose().to_owned()),
            (
                "JUNCTION_KEYS".to_owned(),
                self.db.key_spec().expose_secret().to_owned(),
            ),
            ("REDIS_URL".to_owned(), self.redis.url().to_owned()),
            ("JUNCTION_LOG".to_owned(), "info".to_owned()),
        ];
        let settings = self.settings();
        let all = settings
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .chain(overrides.iter().copied());
        for (key, value) in all {
            env.push((format!("JUNCTION_{key}"), value.to_owned()));
        }
        env
    }
}

/// A `junction-worker` process.
pub struct WorkerProcess {
    child: Child,
    pub log: PathBuf,
    /// Where it serves /metrics, when it does (known once it is ready).
    pub metrics: Option<SocketAddr>,
    /// Its stdout until the ready line was read.
    stdout: Option<Lines<BufReader<ChildStdout>>>,
}

impl WorkerProcess {
    /// Starts the built binary and waits (bounded) for its ready line.
    pub async fn spawn(env: &[(String, String)]) -> Self {
        let mut process = Self::start(env);
        process.wait_ready(Duration::from_secs(30)).await;
        process
    }

    /// Starts the built binary without waiting for it to be ready.
    pub fn start(env: &[(String, String)]) -> Self {
        let log = std::env::temp_dir().join(format!(
            "junction-worker-test-{}.log",
            Uuid::new_v4().simple()
        ));
        let log_file = std::fs::File::create(&log).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_junction-worker"))
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        Self {
            child,
            log,
            metrics: None,
            stdout: Some(BufReader::new(stdout).lines()),
        }
    }

    /// Waits (bounded) for the ready line, the first on stdout.
    pub async fn wait_ready(&mut self, timeout: Duration) {
        let mut lines = self.stdout.take().expect("waited for once");
        let ready = tokio::time::timeout(timeout, lines.next_line()).await;
        let line = match ready {
            Ok(Ok(Some(line))) => line,
            other => panic!(
                "junction-worker did not get ready ({other:?}); its log:\n{}",
                self.log_text()
            ),
        };
        assert!(line.contains("ready"), "unexpected first line: {line}");
        self.metrics = line
            .split("metrics on http://")
            .nth(1)
            .map(|addr| addr.trim().parse().unwrap());
        // Keep draining stdout so the process never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the process is running")
    }

    /// SIGKILL, and wait for it to be gone.
    pub async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("a killed worker is gone within 10 s")
            .unwrap();
    }

    /// SIGTERM (the process drains and exits on its own).
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (bounded) for the process to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!(
                "junction-worker did not exit within {timeout:?}; its log:\n{}",
                self.log_text()
            ),
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The sum of a metric's samples whose labels contain `labels` (e.g.
    /// `outcome="succeeded"`), from the process's /metrics.
    pub async fn metric(&self, name: &str, labels: &str) -> f64 {
        let addr = self.metrics.expect("the process serves metrics");
        let text = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|line| {
                line.starts_with(name)
                    && line[name.len()..].starts_with(['{', ' '])
                    && line.contains(labels)
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            // The failing test's output shows what the process was doing.
            let log = self.log_text();
            let tail: Vec<&str> = log.lines().rev().take(80).collect();
            eprintln!(
                "--- last lines of {} ---\n{}",
                self.log.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        let _ = std::fs::remove_file(&self.log);
    }
}
