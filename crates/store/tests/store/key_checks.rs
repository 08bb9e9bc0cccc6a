//! The key ring proves itself: each key id's check value, stored the first time a
//! process runs with the key, refuses another key under the same id, naming the id
//! and never the key.

use std::collections::BTreeMap;

use junction_store::{
    KeyRing, StoreError, Vault, VaultError,
    repo::{self, key_checks::RingCheck},
};
use junction_testkit::{TestDb, create_integration, create_workspace, random_key};
use secrecy::SecretString;

fn ring(spec: &str) -> Vault {
    Vault::new(KeyRing::parse(&SecretString::from(spec.to_owned())).unwrap())
}

fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

#[tokio::test]
async fn a_key_id_whose_key_differs_is_refused_naming_the_id_never_the_key() {
    let db = TestDb::new().await;
    let right_key = random_key();
    let wrong_key = random_key();
    let right = ring(&format!("k1:{right_key}"));
    // Through the application role, as the API and the worker start.
    let mut conn = db.store().unscoped().await.unwrap();
    repo::key_checks::verify(&mut conn, &right).await.unwrap();
    let stored = repo::key_checks::get(&mut conn, &["k1"]).await.unwrap();
    assert_eq!(stored.len(), 1);

    let wrong = ring(&format!("k1:{wrong_key}"));
    let err = repo::key_checks::verify(&mut conn, &wrong)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Vault(VaultError::KeyMismatch(id)) if id == "k1"),
        "{err:?}"
    );
    let message = err.to_string();
    assert_eq!(
        message,
        "JUNCTION_KEYS: key `k1` does not open what it sealed before (a different key under the same id?)"
    );
    for key in [&right_key, &wrong_key] {
        assert!(!message.contains(key.as_str()));
        assert!(!format!("{err:?}").contains(key.as_str()));
    }

    // Refused before anything is written: the new key of the same ring gets no check,
    // and the stored check is unchanged.
    let wrong_with_new = ring(&format!("k2:{},k1:{wrong_key}", random_key()));
    let err = repo::key_checks::verify(&mut conn, &wrong_with_new)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Vault(VaultError::KeyMismatch(ref id)) if id == "k1"));
    assert_eq!(db.count("SELECT count(*) AS n FROM key_checks").await, 1);
    assert_eq!(
        repo::key_checks::get(&mut conn, &["k1", "k2"])
            .await
            .unwrap(),
        stored
    );
    // The right key still passes.
    assert_eq!(
        repo::key_checks::verify(&mut conn, &right).await.unwrap(),
        RingCheck {
            verified: ids(&["k1"]),
            recorded: vec![],
        }
    );
}

#[tokio::test]
async fn a_fresh_ring_stores_its_checks_so_the_second_start_is_protected() {
    let db = TestDb::new().await;
    let (a, b) = (random_key(), random_key());
    let vault = ring(&format!("a:{a},b:{b}"));
    assert_eq!(db.count("SELECT count(*) AS n FROM key_checks").await, 0);
    let mut conn = db.store().unscoped().await.unwrap();
    assert_eq!(
        repo::key_checks::verify(&mut conn, &vault).await.unwrap(),
        RingCheck {
            verified: vec![],
            recorded: ids(&["a", "b"]),
        }
    );
    assert_eq!(db.count("SELECT count(*) AS n FROM key_checks").await, 2);
    assert_eq!(
        repo::key_checks::verify(&mut conn, &vault).await.unwrap(),
        RingCheck {
            verified: ids(&["a", "b"]),
            recorded: vec![],
        }
    );
    // The second start with another `b` is refused.
    let err = repo::key_checks::verify(&mut conn, &ring(&format!("a:{a},b:{}", random_key())))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Vault(VaultError::KeyMismatch(ref id)) if id == "b"));

    // Only AEAD ciphertext is stored: the check values are not the key, and the
    // application role can neither change nor remove them.
    let checks = repo::key_checks::get(&mut conn, &["a", "b"]).await.unwrap();
    for check in &checks {
        assert_eq!(check.nonce.len(), 12);
        assert!(check.check_value.len() > 16);
    }
    for sql in [
        "UPDATE key_checks SET check_value = check_value",
        "DELETE FROM key_checks",
    ] {
        let err = diesel_async::RunQueryDsl::execute(diesel::sql_query(sql), &mut *conn)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("permission denied"),
            "{sql}: {err}"
        );
    }
}

#[tokio::test]
async fn two_processes_starting_at_once_with_different_keys_under_one_id_agree_on_one() {
    let db = TestDb::new().await;
    let first = ring(&format!("k1:{}", random_key()));
    let second = ring(&format!("k1:{}", random_key()));
    let mut conn_a = db.store().unscoped().await.unwrap();
    let mut conn_b = db.store().unscoped().await.unwrap();
    let (a, b) = tokio::join!(
        repo::key_checks::verify(&mut conn_a, &first),
        repo::key_checks::verify(&mut conn_b, &second)
    );
    assert!(
        a.is_ok() != b.is_ok(),
        "exactly one of the two keys is the one stored: {a:?} / {b:?}"
    );
    assert_eq!(db.count("SELECT count(*) AS n FROM key_checks").await, 1);
}

#[tokio::test]
async fn rotation_stores_the_new_keys_check() {
    let db = TestDb::new().await;
    let (old_key, new_key) = (random_key(), random_key());
    let old = ring(&format!("old:{old_key}"));
    let both = ring(&format!("new:{new_key},old:{old_key}"));
    let mut conn = db.store().unscoped().await.unwrap();
    repo::key_checks::verify(&mut conn, &old).await.unwrap();
    let (ws, _) = create_workspace(db.store(), "A").await;
    let integration = create_integration(db.store(), ws, "stripe").await;
    let mut tx = db.store().begin(ws).await.unwrap();
    repo::credentials::put(
        tx.conn(),
        &old,
        ws,
        integration.id,
        &BTreeMap::from([("api_key".to_owned(), SecretString::from("sk_live_1"))]),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // The rotation's steps, as `junction keys rotate` takes them on the owner's
    // connection: prove the stored checks, re-seal, store the new key's check.
    let mut admin = db.admin().await;
    let unchecked = repo::key_checks::verify_stored(admin.conn(), &both)
        .await
        .unwrap();
    assert_eq!(unchecked, ids(&["new"]));
    let report = repo::credentials::rotate_all(admin.conn(), &both, 10)
        .await
        .unwrap();
    assert_eq!(report.resealed, 1);
    assert_eq!(
        repo::key_checks::record_missing(admin.conn(), &both, &["new"])
            .await
            .unwrap(),
        ids(&["new"])
    );

    // The old key can go; the new one is now protected like the old one was.
    let only_new = ring(&format!("new:{new_key}"));
    assert_eq!(
        repo::key_checks::verify(&mut conn, &only_new)
            .await
            .unwrap(),
        RingCheck {
            verified: ids(&["new"]),
            recorded: vec![],
        }
    );
    let err = repo::key_checks::verify(&mut conn, &ring(&format!("new:{}", random_key())))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Vault(VaultError::KeyMismatch(ref id)) if id == "new"));
    // A rotation with a wrong old key is refused before it re-seals anything.
    let wrong_old = ring(&format!("newer:{},old:{}", random_key(), random_key()));
    let err = repo::key_checks::verify_stored(admin.conn(), &wrong_old)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Vault(VaultError::KeyMismatch(ref id)) if id == "old"));
}
