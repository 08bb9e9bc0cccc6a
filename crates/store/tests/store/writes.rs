//! Page commits: idempotent upserts, cursor in the same transaction, all or nothing.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction_core::{KpiPoint, Page, Record};
use junction_store::{
    ingest::commit_page,
    models::{KpiRow, RecordRow},
    repo,
    schema::kpi_points,
};
use junction_testkit::{TestDb, create_integration, create_workspace};
use serde_json::json;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn page(ids: &[&str], cursor: &str) -> Page {
    Page {
        records: ids
            .iter()
            .map(|id| Record {
                external_id: (*id).to_owned(),
                data: json!({"id": id, "amount": 1200, "nested": {"b": 2, "a": 1}}),
                modified_at: None,
            })
            .collect(),
        kpis: vec![
            KpiPoint::total("sessions", day(1), 10.0),
            KpiPoint::total("sessions", day(1), 12.0).with_dimension("country", "DE"),
            KpiPoint::total("sessions", day(2), 7.0),
        ],
        next_cursor: Some(json!({"after": cursor})),
        has_more: true,
    }
}

async fn snapshot(
    db: &TestDb,
    ws: junction_core::WorkspaceId,
    integration: uuid::Uuid,
) -> (Vec<RecordRow>, Vec<KpiRow>, Option<serde_json::Value>) {
    let mut tx = db.store().begin(ws).await.unwrap();
    let records = repo::records::list(tx.conn(), integration, "charges", None, None, 500)
        .await
        .unwrap();
    // Every column, `updated_at` included: a point rewritten with its own value
    // would show there.
    let kpis = kpi_points::table
        .filter(kpi_points::integration_id.eq(integration))
        .filter(kpi_points::metric.eq("sessions"))
        .order((kpi_points::date, kpi_points::dimension_key))
        .select(KpiRow::as_select())
        .load(tx.conn())
        .await
        .unwrap();
    let cursor = repo::stream_states::get(tx.conn(), integration, "charges")
        .await
        .unwrap()
        .and_then(|s| s.cursor);
    (records, kpis, cursor)
}

#[tokio::test]
async fn the_same_page_twice_leaves_the_same_rows_and_cursor() {
    let db = TestDb::new().await;
    let (ws, _) = create_workspace(db.store(), "A").await;
    let integration = create_integration(db.store(), ws, "stripe").await;
    let first = commit_page(
        db.store(),
        ws,
        integration.id,
        "charges",
        &page(&["ch_1", "ch_2", "ch_2"], "ch_2"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (
            first.records_read,
            first.records_written,
            first.kpi_points_written
        ),
        (3, 2, 3)
    );
    let before = snapshot(&db, ws, integration.id).await;
    assert_eq!(before.0.len(), 2);
    assert_eq!(before.1.len(), 3);
    assert_eq!(before.2, Some(json!({"after": "ch_2"})));

    let second = commit_page(
        db.store(),
        ws,
        integration.id,
        "charges",
        &page(&["ch_1", "ch_2"], "ch_2"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (second.records_written, second.kpi_points_written),
        (0, 0),
        "nothing changed"
    );
    let after = snapshot(&db, ws, integration.id).await;
    assert_eq!(
        before, after,
        "rows (including updated_at) and cursor must be identical"
    );

    // A changed record is rewritten, the others are left alone.
    let mut changed = page(&["ch_1", "ch_2"], "ch_3");
    changed.records[1].data = json!({"id": "ch_2", "amount": 999});
    let third = commit_page(db.store(), ws, integration.id, "charges", &changed, None)
        .await
        .unwrap();
    assert_eq!(third.records_written, 1);
    let latest = snapshot(&db, ws, integration.id).await;
    assert_eq!(
        latest.0.iter().find(|r| r.external_id == "ch_1"),
        before.0.iter().find(|r| r.external_id == "ch_1")
    );
    assert_eq!(latest.2, Some(json!({"after": "ch_3"})));
}

#[tokio::test]
async fn a_failure_mid_page_rolls_the_whole_page_back() {
    let db = TestDb::new().await;
    let (ws, _) = create_workspace(db.store(), "A").await;
    let integration = create_integration(db.store(), ws, "stripe").await;
    let run = {
        let mut tx = db.store().begin(ws).await.unwrap();
        let run = repo::sync_runs::create(
            tx.conn(),
            ws,
            integration.id,
            None,
            junction_store::models::SyncTrigger::Manual,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        run
    };
    commit_page(
        db.store(),
        ws,
        integration.id,
        "charges",
        &page(&["ch_1"], "ch_1"),
        Some(run.id),
    )
    .await
    .unwrap();
    let before = snapshot(&db, ws, integration.id).await;

    // Good records, then one the schema refuses (external ids are at most 512 chars):
    // the records before it were already written inside the transaction.
    let too_long = "x".repeat(600);
    let mut bad = page(&["ch_2", "ch_3", &too_long], "ch_9");
    bad.kpis.push(KpiPoint::total("sessions", day(3), 99.0));
    let err = commit_page(
        db.store(),
        ws,
        integration.id,
        "charges",
        &bad,
        Some(run.id),
    )
    .await;
    assert!(err.is_err());
    // KPI points fail after the records: a non-finite value is refused.
    let mut bad_kpi = page(&["ch_4"], "ch_9");
    bad_kpi
        .kpis
        .push(KpiPoint::total("sessions", day(4), f64::NAN));
    assert!(
        commit_page(
            db.store(),
            ws,
            integration.id,
            "charges",
            &bad_kpi,
            Some(run.id)
        )
        .await
        .is_err()
    );

    let after = snapshot(&db, ws, integration.id).await;
    assert_eq!(
        before, after,
        "no record, KPI point or cursor of the failed pages may remain"
    );
    let mut tx = db.store().begin(ws).await.unwrap();
    let run = repo::sync_runs::get(tx.conn(), run.id).await.unwrap();
    assert_eq!(
        (run.records_read, run.records_written),
        (1, 1),
        "run counters roll back too"
    );
}
