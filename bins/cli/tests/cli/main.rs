//! End-to-end tests of the `junction` binary against a real Postgres: outputs,
//! exit codes and one-line errors.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod key_ring;
mod probe;
use std::{collections::BTreeMap, process::Output};

use junction_store::{KeyRing, Vault, repo, repo::api_keys::Authentication};
use junction_testkit::{TestDb, create_integration, create_workspace, random_key};
use secrecy::{ExposeSecret, SecretString};

fn junction(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_junction"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("JUNCTION_KEYS");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("running junction")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Asserts a failure with exactly one line on stderr that contains `needle`.
fn assert_one_line_error(output: &Output, code: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected, got: {stderr}"
    );
    assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
    assert!(output.stdout.is_empty(), "nothing on stdout on failure");
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_then_create_a_workspace_with_json_output() {
    let db = TestDb::empty().await;
    let url = db.url().expose().to_owned();
    let env = [("DATABASE_URL", url.as_str())];

    let before = junction(&["workspace", "create", "Acme"], &env);
    assert_one_line_error(&before, 1, "run `junction migrate` first");

    let migrated = junction(&["migrate"], &env);
    assert!(migrated.status.success(), "{migrated:?}");
    let applied = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations"))
        .unwrap()
        .count();
    assert!(
        stdout(&migrated).starts_with(&format!("applied {applied} migration")),
        "{}",
        stdout(&migrated)
    );
    assert_eq!(
        stdout(&junction(&["migrate"], &env)),
        "the schema is already up to date"
    );

    let created = junction(&["workspace", "create", "Acme", "--json"], &env);
    assert!(created.status.success(), "{created:?}");
    let out = stdout(&created);
    assert_eq!(out.lines().count(), 1, "one JSON object: {out}");
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    let object = value.as_object().unwrap();
    assert_eq!(object.len(), 2);
    let key = object["api_key"].as_str().unwrap();
    assert!(key.starts_with("jct_"));
    let workspace: uuid::Uuid = object["workspace_id"].as_str().unwrap().parse().unwrap();

    // The printed key authenticates as that workspace.
    let store = junction_store::Store::connect(db.url(), Default::default())
        .await
        .unwrap();
    let mut conn = store.unscoped().await.unwrap();
    let auth = repo::api_keys::authenticate(&mut conn, &SecretString::from(key.to_owned()))
        .await
        .unwrap();
    assert!(
        matches!(auth, Authentication::Valid { workspace_id, .. } if workspace_id.as_uuid() == workspace)
    );

    let human = junction(&["workspace", "create", "Beta"], &env);
    assert!(stdout(&human).contains("shown only once"));
    let list = stdout(&junction(&["workspace", "list"], &env));
    assert!(list.contains("Acme") && list.contains("Beta"));
}

#[tokio::test(flavor = "multi_thread")]
async fn api_keys_are_created_listed_and_revoked() {
    let db = TestDb::new().await;
    let (ws, first_key) = create_workspace(db.store(), "Acme").await;
    let url = db.url().expose().to_owned();
    let env = [("DATABASE_URL", url.as_str())];
    let ws_arg = ws.to_string();

    let created = junction(
        &[
            "api-key",
            "create",
            "--workspace",
            &ws_arg,
            "--name",
            "ci",
            "--json",
        ],
        &env,
    );
    assert!(created.status.success(), "{created:?}");
    let value: serde_json::Value = serde_json::from_str(&stdout(&created)).unwrap();
    let key_id = value["id"].as_str().unwrap().to_owned();
    let key = SecretString::from(value["api_key"].as_str().unwrap().to_owned());

    let listed = stdout(&junction(
        &["api-key", "list", "--workspace", &ws_arg],
        &env,
    ));
    assert_eq!(listed.lines().count(), 2);
    assert!(
        !listed.contains(key.expose_secret()),
        "keys are never listed"
    );
    assert!(!listed.contains(first_key.expose_secret()));

    let revoked = junction(
        &["api-key", "revoke", "--workspace", &ws_arg, &key_id],
        &env,
    );
    assert!(revoked.status.success(), "{revoked:?}");
    let mut conn = db.store().unscoped().await.unwrap();
    assert_eq!(
        repo::api_keys::authenticate(&mut conn, &key).await.unwrap(),
        Authentication::Revoked
    );

    let again = junction(
        &["api-key", "revoke", "--workspace", &ws_arg, &key_id],
        &env,
    );
    assert_one_line_error(&again, 1, "already revoked");

    // A key of another workspace is not found through this one.
    let (other, _) = create_workspace(db.store(), "Other").await;
    let foreign = junction(
        &[
            "api-key",
            "revoke",
            "--workspace",
            &other.to_string(),
            &key_id,
        ],
        &env,
    );
    assert_one_line_error(&foreign, 1, "not found in workspace");
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_are_one_clear_line() {
    let db = TestDb::new().await;
    let url = db.url().expose().to_owned();
    let env = [("DATABASE_URL", url.as_str())];

    assert_one_line_error(
        &junction(&["api-key", "list", "--wrkspace", "x"], &env),
        2,
        "unexpected argument '--wrkspace'",
    );
    assert_one_line_error(
        &junction(&["api-key", "list", "--workspace", "nope"], &env),
        2,
        "is not a workspace id",
    );
    assert_one_line_error(
        &junction(&["frobnicate"], &env),
        2,
        "unrecognized subcommand",
    );
    assert_one_line_error(&junction(&["migrate"], &[]), 2, "--database-url");
    assert_one_line_error(
        &junction(&["migrate"], &[("DATABASE_URL", "mysql://x")]),
        2,
        "postgres://",
    );

    let unknown = uuid::Uuid::new_v4().to_string();
    assert_one_line_error(
        &junction(&["api-key", "list", "--workspace", &unknown], &env),
        1,
        &format!("workspace {unknown} not found"),
    );

    // A database that is down: named by host, never with its password.
    let down = junction(
        &["migrate"],
        &[("DATABASE_URL", "postgres://postgres:hunter2@127.0.0.1:1/x")],
    );
    assert_one_line_error(
        &down,
        1,
        "cannot connect to the database at postgres://127.0.0.1:1/x",
    );
    assert!(!String::from_utf8_lossy(&down.stderr).contains("hunter2"));

    // A malformed key ring names the variable, never the value.
    let bad_ring = junction(
        &["keys", "rotate"],
        &[
            ("DATABASE_URL", &url),
            ("JUNCTION_KEYS", "k1:c2VjcmV0LXZhbHVl"),
        ],
    );
    assert_one_line_error(&bad_ring, 1, "JUNCTION_KEYS is malformed");
    assert!(!String::from_utf8_lossy(&bad_ring.stderr).contains("c2VjcmV0LXZhbHVl"));
    assert_one_line_error(
        &junction(&["keys", "rotate"], &env),
        1,
        "JUNCTION_KEYS is not set",
    );
}

/// A password, key or URL nobody may see: no output of any case contains it.
const MARKER: &str = "hunter2";

/// One run of `junction` and what it must answer.
struct Case {
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    code: i32,
    /// Part of the one line on stderr.
    says: &'static str,
}

impl Case {
    fn new(args: &[&str], env: &[(&'static str, &str)], code: i32, says: &'static str) -> Self {
        Self {
            args: args.iter().map(|&a| a.to_owned()).collect(),
            env: env.iter().map(|&(k, v)| (k, v.to_owned())).collect(),
            code,
            says,
        }
    }

    /// What is wrong with the run, if anything.
    fn failure(&self) -> Option<String> {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let output = junction(&args, &env);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let problem = if stdout.contains(MARKER) || stderr.contains(MARKER) {
            "the secret is printed"
        } else if output.status.code() != Some(self.code) {
            "wrong exit code"
        } else if stderr.trim_end().lines().count() != 1 {
            "not one line on stderr"
        } else if !stderr.contains(self.says) {
            "stderr does not say what is wrong"
        } else if !stdout.is_empty() {
            "output on stdout"
        } else {
            return None;
        };
        Some(format!(
            "{problem}: junction {args:?} with {env:?} (expected exit {} and `{}`) exited {:?}\n  stdout: {stdout}\n  stderr: {stderr}",
            self.code,
            self.says,
            output.status.code()
        ))
    }
}

/// No output ever shows a database password, a key or a value that may be one: not
/// from a malformed or unreachable DATABASE_URL (flag or environment) of any command,
/// nor a malformed JUNCTION_KEYS, nor clap's own errors. Needs no database.
#[test]
fn no_output_echoes_a_password_or_a_key() {
    let ws = uuid::Uuid::new_v4().to_string();
    let id = uuid::Uuid::new_v4().to_string();
    let ring = format!("k1:{}", random_key());
    // Every command that takes a database URL.
    let commands: [&[&str]; 10] = [
        &["migrate"],
        &["migrate", "--status"],
        &["workspace", "create", "Acme"],
        &["workspace", "list"],
        &["api-key", "create", "--workspace", &ws],
        &["api-key", "list", "--workspace", &ws],
        &["api-key", "revoke", "--workspace", &ws, &id],
        &["keys", "rotate"],
        &["dlq", "list", "--workspace", &ws],
        &["dlq", "replay", "--workspace", &ws, "--all"],
    ];
    let scheme = "must be a postgres:// or postgresql:// URL";
    let malformed = "DATABASE_URL (or --database-url) is malformed";
    // The server is named by host, port and database only.
    let down = "cannot connect to the database at postgres://127.0.0.1:1/x:";
    let down_ql = "cannot connect to the database at postgresql://127.0.0.1:1/x:";
    let urls: [(&str, i32, &str); 16] = [
        ("postgres//user:hunter2@db/x", 2, scheme),
        ("mysql://user:hunter2@db/x", 2, scheme),
        ("user:hunter2@127.0.0.1:1/x", 2, scheme),
        ("hunter2", 2, scheme),
        ("", 2, scheme),
        ("postgres://user:hunter2@[bad", 2, malformed),
        ("postgres://user:hunter2@[::1]x/db", 2, malformed),
        ("postgres://user:hunter2@127.0.0.1:port/x", 2, malformed),
        // Unencoded `?`, `/` or `@` in a password: the driver and the redaction
        // would not agree where the host starts.
        ("postgres://user:hunter2?x@127.0.0.1:1/x", 2, malformed),
        ("postgres://user:hunter2/x@127.0.0.1:1/x", 2, malformed),
        ("postgres://user:hunter2@x@127.0.0.1:1/x", 2, malformed),
        ("postgresql://user:hunter2 @127.0.0.1:1/x", 2, malformed),
        (
            "postgres://user:hunter2@127.0.0.1:1/x?hunter2",
            2,
            malformed,
        ),
        // Well formed; nothing listens on port 1.
        ("postgres://user:hunter2@127.0.0.1:1/x", 1, down),
        (
            "postgresql://user:hunter2%40%3F@127.0.0.1:1/x?sslmode=disable",
            1,
            down_ql,
        ),
        ("postgres://127.0.0.1:1/x?user=u&password=hunter2", 1, down),
    ];
    let keys = [("JUNCTION_KEYS", ring.as_str())];
    let mut cases = Vec::new();
    for command in commands {
        for (url, code, says) in urls {
            let flag = [command, &["--database-url", url, "--connect-timeout", "1"]].concat();
            cases.push(Case::new(&flag, &keys, code, says));
            let from_env = [command, &["--connect-timeout", "1"]].concat();
            let env = [keys[0], ("DATABASE_URL", url)];
            cases.push(Case::new(&from_env, &env, code, says));
        }
    }
    // A malformed key ring is named, never shown (the URL is checked first).
    let up_url = "postgres://user:hunter2@127.0.0.1:1/x";
    let bad_rings = [
        "hunter2".to_owned(),
        "k1:hunter2".to_owned(),
        "hunter2:".to_owned(),
        "hunter2!:c2VjcmV0".to_owned(),
        format!("{ring},hunter2"),
        format!("{ring},k1:hunter2"),
    ];
    for bad in &bad_rings {
        for url_from_env in [false, true] {
            let mut args = vec!["keys", "rotate", "--connect-timeout", "1"];
            let mut env = vec![("JUNCTION_KEYS", bad.as_str())];
            if url_from_env {
                env.push(("DATABASE_URL", up_url));
            } else {
                args.extend(["--database-url", up_url]);
            }
            cases.push(Case::new(&args, &env, 1, "JUNCTION_KEYS is malformed"));
        }
        let env = [
            ("JUNCTION_KEYS", bad.as_str()),
            ("DATABASE_URL", "mysql://u:hunter2@h/x"),
        ];
        cases.push(Case::new(&["keys", "rotate"], &env, 2, scheme));
    }
    // Values clap rejects, or stray words, are not quoted either: any may be a secret.
    let env = [("DATABASE_URL", "postgres://127.0.0.1:1/x")];
    let rejected: [(&[&str], i32, &str); 12] = [
        (
            &["postgres://user:hunter2@h/x"],
            2,
            "unrecognized subcommand",
        ),
        (
            &["migrate", "postgres://user:hunter2@h/x"],
            2,
            "unexpected value",
        ),
        (
            &["migrate", "--status=hunter2"],
            2,
            "unexpected value for '--status'",
        ),
        (
            &["migrate", "--databse-url=postgres://u:hunter2@h/x"],
            2,
            "unexpected argument '--databse-url'",
        ),
        (
            &["api-key", "revoke", "--workspace", &ws, "jct_hunter2"],
            2,
            "is not an API key id",
        ),
        (
            &["api-key", "list", "--workspace", "hunter2"],
            2,
            "is not a workspace id",
        ),
        (
            &["dlq", "list", "--workspace", &ws, "--queue", "hunter2"],
            2,
            "is not a queue",
        ),
        (
            &[
                "dlq",
                "list",
                "--workspace",
                &ws,
                "--integration",
                "hunter2",
            ],
            2,
            "is not an integration id",
        ),
        (
            &["dlq", "list", "--workspace", &ws, "--", "-hunter2"],
            2,
            "unexpected value",
        ),
        (
            &["dlq", "replay", "--workspace", &ws, "hunter2"],
            2,
            "is not a dead letter id",
        ),
        (
            &["dlq", "list", "--workspace", &ws, "--limit", "hunter2"],
            2,
            "invalid value for '--limit",
        ),
        (
            &["keys", "generate", "--id", "k1:hunter2"],
            1,
            "key id (--id) is invalid",
        ),
    ];
    for (args, code, says) in rejected {
        cases.push(Case::new(args, &env, code, says));
    }

    // Each run takes some milliseconds (port 1 refuses at once): run them side by side.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = cases
            .chunks(cases.len().div_ceil(8))
            .map(|chunk| {
                scope.spawn(move || chunk.iter().filter_map(Case::failure).collect::<Vec<_>>())
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_rotate_reseals_so_the_old_key_can_be_removed() {
    let db = TestDb::new().await;
    let old_key = random_key();
    let new_key = random_key();
    let old_ring = format!("old:{old_key}");
    let old = Vault::new(KeyRing::parse(&SecretString::from(old_ring.clone())).unwrap());
    let mut expected = Vec::new();
    for name in ["A", "B"] {
        let (ws, _) = create_workspace(db.store(), name).await;
        let integration = create_integration(db.store(), ws, "stripe").await;
        let secret = format!("sk_live_{name}");
        let mut tx = db.store().begin(ws).await.unwrap();
        repo::credentials::put(
            tx.conn(),
            &old,
            ws,
            integration.id,
            &BTreeMap::from([("api_key".to_owned(), SecretString::from(secret.clone()))]),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        expected.push((ws, integration.id, secret));
    }
    let url = db.url().expose().to_owned();
    let both = format!("new:{new_key},{old_ring}");
    let rotated = junction(
        &["keys", "rotate", "--json", "--batch-size", "1"],
        &[("DATABASE_URL", &url), ("JUNCTION_KEYS", &both)],
    );
    assert!(rotated.status.success(), "{rotated:?}");
    let report: serde_json::Value = serde_json::from_str(&stdout(&rotated)).unwrap();
    assert_eq!(report["resealed"], 2);
    assert_eq!(report["key_id"], "new");

    let human = junction(
        &["keys", "rotate"],
        &[("DATABASE_URL", &url), ("JUNCTION_KEYS", &both)],
    );
    assert!(
        stdout(&human).starts_with("re-sealed 0 credential(s) with key `new` (2 already current"),
        "{human:?}"
    );

    let only_new =
        Vault::new(KeyRing::parse(&SecretString::from(format!("new:{new_key}"))).unwrap());
    for (ws, integration, secret) in expected {
        let mut tx = db.store().begin(ws).await.unwrap();
        let opened = repo::credentials::get_all(tx.conn(), &only_new, integration)
            .await
            .unwrap();
        assert_eq!(opened["api_key"].expose_secret(), secret);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_letters_are_listed_and_replayed_from_the_command_line() {
    use junction_store::models::Queue;
    let db = TestDb::new().await;
    let (ws, _) = create_workspace(db.store(), "Acme").await;
    let integration = create_integration(db.store(), ws, "stripe").await;
    let mut tx = db.store().begin(ws).await.unwrap();
    let run = repo::sync_runs::create(
        tx.conn(),
        ws,
        integration.id,
        None,
        junction_store::models::SyncTrigger::Schedule,
    )
    .await
    .unwrap();
    let job = junction_jobs::Job::Sync(junction_jobs::SyncJob {
        workspace_id: ws,
        integration_id: integration.id,
        run_id: run.id,
        stream: None,
    });
    let letter = repo::dead_letters::insert(
        tx.conn(),
        repo::dead_letters::NewDeadLetter {
            workspace_id: ws,
            integration_id: Some(integration.id),
            queue: Queue::Sync,
            job_id: "sync-1",
            job: serde_json::to_value(&job).unwrap(),
            error_code: "provider_rejected",
            error_message: "bad property",
            attempts: 1,
            attempt_log: serde_json::json!([{"attempt": 1}]),
            first_failed_at: chrono::Utc::now(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let url = db.url().expose().to_owned();
    // No Redis: a replay is staged in the outbox for a worker to relay.
    let env = [("DATABASE_URL", url.as_str())];
    let ws_arg = ws.to_string();
    let listed = stdout(&junction(&["dlq", "list", "--workspace", &ws_arg], &env));
    assert_eq!(listed.lines().count(), 1);
    assert!(
        listed.contains("provider_rejected") && listed.contains("pending"),
        "{listed}"
    );

    assert_one_line_error(
        &junction(&["dlq", "replay", "--workspace", &ws_arg], &env),
        1,
        "pass --all",
    );
    let replayed = junction(
        &[
            "dlq",
            "replay",
            "--workspace",
            &ws_arg,
            &letter.id.to_string(),
        ],
        &env,
    );
    assert!(replayed.status.success(), "{replayed:?}");
    assert!(stdout(&replayed).starts_with(&format!("replayed {}", letter.id)));
    assert_eq!(
        db.count("SELECT count(*) AS n FROM outbox WHERE job_id = 'sync-1-replay-1'")
            .await,
        1,
        "the replayed job waits in the outbox"
    );
    let again = junction(
        &[
            "dlq",
            "replay",
            "--workspace",
            &ws_arg,
            &letter.id.to_string(),
        ],
        &env,
    );
    assert_one_line_error(&again, 1, "already replayed");
    let all = junction(
        &["dlq", "replay", "--workspace", &ws_arg, "--all", "--json"],
        &env,
    );
    assert_eq!(stdout(&all), r#"{"replayed":[]}"#);
    assert_one_line_error(
        &junction(
            &["dlq", "list", "--workspace", &ws_arg, "--queue", "bogus"],
            &env,
        ),
        2,
        "is not a queue",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_link_prints_a_one_time_sign_in_link() {
    let db = TestDb::new().await;
    let (ws, _) = create_workspace(db.store(), "Acme").await;
    let url = db.url().expose().to_owned();
    let env = [("DATABASE_URL", url.as_str())];
    let ws_arg = ws.to_string();

    let printed = junction(
        &[
            "dashboard-link",
            "--workspace",
            &ws_arg,
            "--public-url",
            "https://junction.example.com/",
        ],
        &env,
    );
    assert!(printed.status.success(), "{printed:?}");
    let text = stdout(&printed);
    let link = text.lines().next().unwrap();
    let prefix = "https://junction.example.com/dashboard/sign-in/link?token=jdl_";
    assert!(link.starts_with(prefix), "{text}");
    assert!(text.contains("within 15 minutes"), "{text}");
    let token = SecretString::from(link.split_once("token=").unwrap().1.to_owned());

    // The link signs in once.
    let mut conn = db.store().unscoped().await.unwrap();
    assert_eq!(
        repo::dashboard_sign_in_links::use_link(&mut conn, &token)
            .await
            .unwrap(),
        Some(ws)
    );
    assert_eq!(
        repo::dashboard_sign_in_links::use_link(&mut conn, &token)
            .await
            .unwrap(),
        None
    );

    let json = junction(&["dashboard-link", "--workspace", &ws_arg, "--json"], &env);
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert!(
        value["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:8080/dashboard/sign-in/link?token=jdl_")
    );
    assert!(value["expires_at"].is_string());

    let unknown = uuid::Uuid::new_v4().to_string();
    assert_one_line_error(
        &junction(&["dashboard-link", "--workspace", &unknown], &env),
        1,
        "not found",
    );
    assert_one_line_error(
        &junction(
            &[
                "dashboard-link",
                "--workspace",
                &ws_arg,
                "--public-url",
                "ftp://x",
            ],
            &env,
        ),
        2,
        "not an http(s) URL",
    );
}
