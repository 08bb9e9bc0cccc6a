//! The shared conformance suite against the crate's fake, with the table-driven
//! checks generated from the adapter's description, and the fake's privacy
//! requests as the adapter sends them.

use std::sync::Arc;

use junction_conformance::{Description, FakeList, FakeServer, Suite, TokenTable};
use junction_core::{Adapter, AdapterError, ReadRequest, fake::TokenStatus};
use junction_hotjar::{
    API, DELETE_USER_DATA, Hotjar, LOOKUP_USER, PAGING, SURVEY_RESPONSES, SURVEY_RESPONSES_METRIC,
    sandbox::{HotjarFake, SITE_MAIN, SUBJECT_EMAIL, SUBJECT_USER_ID, response_count},
};
use serde_json::{Value, json};

use crate::support::{connection, with_sites};

/// Tokens as the sandbox's token authority would hold them.
fn tokens() -> TokenTable {
    TokenTable::default()
        .with("good", TokenStatus::Valid { scopes: Vec::new() })
        .with("expired", TokenStatus::Expired)
}

async fn server() -> FakeServer {
    FakeServer::start(Arc::new(HotjarFake::default()), tokens()).await
}

#[tokio::test]
async fn hotjar_passes_the_conformance_suite() {
    let server = server().await;
    let adapter: Arc<dyn Adapter> = Arc::new(Hotjar);
    let (good, rejected) = (connection("good"), connection("expired"));
    // An expired access token is what fetching a new one fixes.
    let refreshable = true;
    let responses = format!("sites/{SITE_MAIN}/surveys/8801/responses");
    let description = Description::new(&API)
        .paging_on(&PAGING, FakeList::get(responses).size(100))
        .paging_on(
            &PAGING,
            FakeList::get(format!("sites/{SITE_MAIN}/surveys")).size(1),
        );
    let report = Suite::new(adapter, good, rejected, refreshable)
        .with_description(description)
        .run(&server)
        .await;
    assert_eq!(report.error_rules, API.errors.rules.len());
    assert_eq!((report.fake_lists, report.auth_modes_accepted), (2, 1));
}

/// Reads `survey_responses` to its end; the records and the points.
async fn all_responses(
    server: &FakeServer,
    conn: &junction_core::Connection,
) -> (Vec<Value>, Vec<junction_core::KpiPoint>) {
    let (mut records, mut kpis, mut cursor) = (Vec::new(), Vec::new(), None);
    for _ in 0..100 {
        let page = Hotjar
            .read(
                &server.context(),
                conn,
                &ReadRequest {
                    stream: SURVEY_RESPONSES.into(),
                    cursor: cursor.clone(),
                    page_size: None,
                },
            )
            .await
            .unwrap();
        records.extend(page.records.into_iter().map(|r| r.data));
        kpis.extend(page.kpis);
        cursor = page.next_cursor;
        if !page.has_more {
            return (records, kpis);
        }
    }
    panic!("survey_responses never ended");
}

#[tokio::test]
async fn every_response_is_read_and_counted_per_day_and_survey() {
    let server = server().await;
    let (records, kpis) = all_responses(&server, &connection("good")).await;
    assert_eq!(records.len(), response_count());
    let counted: f64 = kpis
        .iter()
        .filter(|p| p.metric == SURVEY_RESPONSES_METRIC)
        .map(|p| p.value)
        .sum();
    assert_eq!(counted as usize, response_count());
    // One point per survey and day: no day is written twice from partial pages.
    let mut keys: Vec<_> = kpis
        .iter()
        .map(|p| (p.date, p.dimensions["survey"].clone()))
        .collect();
    let all = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), all);
}

#[tokio::test]
async fn a_deletion_request_removes_the_data_subject_and_a_lookup_changes_nothing() {
    let server = server().await;
    let conn = connection("good");
    let subject = |r: &Value| r["email"] == SUBJECT_EMAIL || r["user_id"] == SUBJECT_USER_ID;
    let (before, _) = all_responses(&server, &conn).await;
    let theirs = before.iter().filter(|r| subject(r)).count();
    assert!(theirs > 0);

    let lookup = json!({"data_subject_email": SUBJECT_EMAIL});
    let looked = Hotjar
        .act(&server.context(), &conn, LOOKUP_USER, &lookup, None)
        .await
        .unwrap();
    assert_eq!(looked.output["deletion_requested"], false);
    assert_eq!(all_responses(&server, &conn).await.0.len(), before.len());

    // Without the explicit flag nothing is sent.
    let refused = Hotjar
        .act(&server.context(), &conn, DELETE_USER_DATA, &lookup, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, AdapterError::Invalid { field: Some(f), .. } if f == "delete_all_hits"),
        "{refused:?}"
    );
    assert_eq!(all_responses(&server, &conn).await.0.len(), before.len());

    let delete = json!({
        "delete_all_hits": true,
        "data_subject_email": SUBJECT_EMAIL,
        "data_subject_site_id_to_user_id_map": {SITE_MAIN: SUBJECT_USER_ID},
    });
    let deleted = Hotjar
        .act(&server.context(), &conn, DELETE_USER_DATA, &delete, None)
        .await
        .unwrap();
    assert_eq!(deleted.output["deletion_requested"], true);
    assert_eq!(deleted.output["status"], 202);
    assert_eq!(
        deleted.output["requested"],
        json!({
            "organization_id": junction_hotjar::sandbox::ORGANIZATION,
            "delete_all_hits": true,
            "data_subject_email": SUBJECT_EMAIL,
            "data_subject_site_id_to_user_id_map": {SITE_MAIN: SUBJECT_USER_ID},
        })
    );
    let (after, _) = all_responses(&server, &conn).await;
    assert_eq!(after.len(), before.len() - theirs);
    assert!(!after.iter().any(subject));

    // Asked again (a retry), it deletes nothing more.
    Hotjar
        .act(&server.context(), &conn, DELETE_USER_DATA, &delete, None)
        .await
        .unwrap();
    assert_eq!(all_responses(&server, &conn).await.0.len(), after.len());
}

#[tokio::test]
async fn a_site_the_organization_does_not_have_is_named_by_the_check() {
    let server = server().await;
    let error = Hotjar
        .check(&server.context(), &with_sites("good", "999"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AdapterError::Invalid { field: Some(f), .. } if f == "site_ids"),
        "{error:?}"
    );
    let health = Hotjar
        .check(&server.context(), &connection("good"))
        .await
        .unwrap();
    assert_eq!(
        health.account.as_deref(),
        Some("Hotjar organization 1204567 (2 sites)")
    );
}
