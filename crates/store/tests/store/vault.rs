//! Sealed credentials in the database: round trip, tamper resistance, key rotation,
//! and no plaintext secret anywhere in the database.

use std::collections::BTreeMap;

use base64::{Engine, engine::general_purpose::STANDARD};
use diesel::{QueryableByName, sql_types};
use diesel_async::RunQueryDsl;
use junction_store::{KeyRing, StoreError, Vault, VaultError, repo};
use junction_testkit::{TestDb, create_integration, create_workspace, random_key};
use secrecy::{ExposeSecret, SecretString};

fn ring(spec: &str) -> Vault {
    Vault::new(KeyRing::parse(&SecretString::from(spec.to_owned())).unwrap())
}

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, SecretString> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), SecretString::from(v.to_string())))
        .collect()
}

#[tokio::test]
async fn credentials_round_trip_and_refuse_to_move() {
    let db = TestDb::new().await;
    let (ws, _) = create_workspace(db.store(), "A").await;
    let first = create_integration(db.store(), ws, "stripe").await;
    let second = create_integration(db.store(), ws, "stripe").await;
    let vault = db.vault();

    let mut tx = db.store().begin(ws).await.unwrap();
    repo::credentials::put(
        tx.conn(),
        vault,
        ws,
        first.id,
        &fields(&[("api_key", "sk_test_111"), ("webhook_secret", "whsec_1")]),
    )
    .await
    .unwrap();
    // Replacing one field keeps the other.
    repo::credentials::put(
        tx.conn(),
        vault,
        ws,
        first.id,
        &fields(&[("api_key", "sk_test_222")]),
    )
    .await
    .unwrap();
    let opened = repo::credentials::get_all(tx.conn(), vault, first.id)
        .await
        .unwrap();
    assert_eq!(opened["api_key"].expose_secret(), "sk_test_222");
    assert_eq!(opened["webhook_secret"].expose_secret(), "whsec_1");
    tx.commit().await.unwrap();

    // Copy the sealed api_key of the first integration onto the second one.
    let mut admin = db.admin().await;
    diesel::sql_query(
        "INSERT INTO credentials (workspace_id, integration_id, field, key_id, sealed) \
         SELECT workspace_id, $1, field, key_id, sealed FROM credentials WHERE integration_id = $2 AND field = 'api_key'",
    )
    .bind::<sql_types::Uuid, _>(second.id)
    .bind::<sql_types::Uuid, _>(first.id)
    .execute(admin.conn())
    .await
    .unwrap();
    let mut tx = db.store().begin(ws).await.unwrap();
    let err = repo::credentials::get_all(tx.conn(), vault, second.id)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Vault(VaultError::OpenFailed)),
        "{err}"
    );
    drop(tx);

    // Move the field name: api_key's ciphertext under webhook_secret fails too.
    diesel::sql_query(
        "UPDATE credentials SET sealed = (SELECT sealed FROM credentials WHERE integration_id = $1 AND field = 'api_key') \
         WHERE integration_id = $1 AND field = 'webhook_secret'",
    )
    .bind::<sql_types::Uuid, _>(first.id)
    .execute(admin.conn())
    .await
    .unwrap();
    let mut tx = db.store().begin(ws).await.unwrap();
    assert!(
        repo::credentials::get_all(tx.conn(), vault, first.id)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn rotation_reseals_everything_so_the_old_key_can_go() {
    let db = TestDb::new().await;
    let old_key = random_key();
    let new_key = random_key();
    let old = ring(&format!("old:{old_key}"));
    let both = ring(&format!("new:{new_key},old:{old_key}"));
    let only_new = ring(&format!("new:{new_key}"));

    let mut sealed_ids = Vec::new();
    for name in ["A", "B"] {
        let (ws, _) = create_workspace(db.store(), name).await;
        for n in 0..3 {
            let integration = create_integration(db.store(), ws, "stripe").await;
            let mut tx = db.store().begin(ws).await.unwrap();
            repo::credentials::put(
                tx.conn(),
                &old,
                ws,
                integration.id,
                &fields(&[("api_key", &format!("sk_{name}_{n}"))]),
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
            sealed_ids.push((ws, integration.id, format!("sk_{name}_{n}")));
        }
    }

    // Before rotation the new-only ring cannot open anything.
    let (ws, id, _) = &sealed_ids[0];
    let mut tx = db.store().begin(*ws).await.unwrap();
    let err = repo::credentials::get_all(tx.conn(), &only_new, *id)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Vault(VaultError::UnknownKey(_))));
    drop(tx);

    let mut admin = db.admin().await;
    let report = repo::credentials::rotate_all(admin.conn(), &both, 2)
        .await
        .unwrap();
    assert_eq!(report.resealed, 6);
    assert_eq!(report.already_current, 0);
    // A second run (a resumed one) has nothing left to do.
    let again = repo::credentials::rotate_all(admin.conn(), &both, 2)
        .await
        .unwrap();
    assert_eq!((again.resealed, again.already_current), (0, 6));
    assert_eq!(
        repo::credentials::count_by_key(admin.conn()).await.unwrap(),
        vec![("new".to_owned(), 6)]
    );

    for (ws, id, secret) in &sealed_ids {
        let mut tx = db.store().begin(*ws).await.unwrap();
        let opened = repo::credentials::get_all(tx.conn(), &only_new, *id)
            .await
            .unwrap();
        assert_eq!(opened["api_key"].expose_secret(), secret);
    }
}

#[derive(QueryableByName)]
struct Dump {
    #[diesel(sql_type = sql_types::Text)]
    row: String,
}

#[tokio::test]
async fn no_plaintext_secret_is_stored_anywhere() {
    let db = TestDb::new().await;
    let (a, key_a) = create_workspace(db.store(), "A").await;
    let secret = "sk_live_PLAINTEXT_CANARY_4242";
    crate::tenancy::populate(db.store(), db.vault(), a, secret).await;

    let mut admin = db.admin().await;
    let tables: Vec<Dump> = diesel::sql_query(
        "SELECT table_name::text AS row FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .load(admin.conn())
    .await
    .unwrap();
    let mut dump = String::new();
    for table in tables {
        let rows: Vec<Dump> =
            diesel::sql_query(format!("SELECT t::text AS row FROM {} t", table.row))
                .load(admin.conn())
                .await
                .unwrap();
        for row in rows {
            dump.push_str(&row.row);
            dump.push('\n');
        }
    }
    assert!(
        dump.contains("stripe"),
        "the dump must hold the populated rows"
    );
    let needles = [
        secret.to_owned(),
        "PLAINTEXT_CANARY".to_owned(),
        STANDARD.encode(secret),
        hex::encode(secret),
        key_a.expose_secret().to_owned(),
        format!("{secret}-pkce"),
    ];
    for needle in needles {
        assert!(
            !dump.contains(&needle),
            "found a plaintext secret in the database: {needle}"
        );
    }
}
