//! `junction keys rotate` proves the key ring before re-sealing anything: a key that
//! is not the one that sealed before under its id is refused, naming the id only;
//! a rotation stores the check of its new key.

use std::{collections::BTreeMap, process::Output};

use junction_store::{KeyRing, Vault, repo};
use junction_testkit::{TestDb, create_integration, create_workspace, random_key};
use secrecy::{ExposeSecret, SecretString};

fn rotate(database_url: &str, keys: &str) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_junction"))
        .args(["keys", "rotate"])
        .env("DATABASE_URL", database_url)
        .env("JUNCTION_KEYS", keys)
        .output()
        .expect("running junction")
}

fn vault(spec: &str) -> Vault {
    Vault::new(KeyRing::parse(&SecretString::from(spec.to_owned())).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_rotate_refuses_a_ring_whose_key_is_not_the_one_that_sealed() {
    let db = TestDb::new().await;
    let url = db.url().expose().to_owned();
    let (k1, k2, wrong) = (random_key(), random_key(), random_key());
    let (ws, _) = create_workspace(db.store(), "Acme").await;
    let integration = create_integration(db.store(), ws, "stripe").await;
    let mut tx = db.store().begin(ws).await.unwrap();
    repo::credentials::put(
        tx.conn(),
        &vault(&format!("k1:{k1}")),
        ws,
        integration.id,
        &BTreeMap::from([("api_key".to_owned(), SecretString::from("sk_live_1"))]),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // The first run with the right key stores its check.
    let first = rotate(&url, &format!("k1:{k1}"));
    assert!(first.status.success(), "{first:?}");
    assert_eq!(
        db.count("SELECT count(*) AS n FROM key_checks WHERE key_id = 'k1'")
            .await,
        1
    );

    // Another key under `k1`, alone or behind a new sealing key: refused, nothing
    // re-sealed, no check stored for the new key.
    for keys in [format!("k1:{wrong}"), format!("k2:{k2},k1:{wrong}")] {
        let output = rotate(&url, &keys);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
        assert_eq!(
            stderr,
            "error: JUNCTION_KEYS: key `k1` does not open what it sealed before (a different key under the same id?)\n"
        );
        for key in [&k1, &k2, &wrong] {
            assert!(!stderr.contains(key.as_str()), "a key in: {stderr}");
        }
        assert!(output.stdout.is_empty());
    }
    let mut admin = db.admin().await;
    assert_eq!(
        repo::credentials::count_by_key(admin.conn()).await.unwrap(),
        vec![("k1".to_owned(), 1)]
    );
    assert_eq!(db.count("SELECT count(*) AS n FROM key_checks").await, 1);

    // With the right old key the rotation runs and stores the new key's check, so a
    // different `k2` is refused from then on.
    let rotated = rotate(&url, &format!("k2:{k2},k1:{k1}"));
    assert!(rotated.status.success(), "{rotated:?}");
    assert_eq!(
        db.count("SELECT count(*) AS n FROM key_checks WHERE key_id = 'k2'")
            .await,
        1
    );
    let refused = rotate(&url, &format!("k2:{wrong}"));
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("key `k2` does not open"), "{stderr}");
    assert!(!stderr.contains(wrong.as_str()) && !stderr.contains(k2.as_str()));
    let opened = {
        let mut tx = db.store().begin(ws).await.unwrap();
        repo::credentials::get_all(tx.conn(), &vault(&format!("k2:{k2}")), integration.id)
            .await
            .unwrap()
    };
    assert_eq!(opened["api_key"].expose_secret(), "sk_live_1");
}
