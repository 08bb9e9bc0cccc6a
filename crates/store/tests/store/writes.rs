//! Page commits: idempotent upserts, cursor in the same transaction, all or nothing.

use crate::assert_refused_by_row_security;
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

/// Every stored point of a metric with every column, `updated_at` included (a point
/// rewritten with its own value would show there), by date.
async fn stored_points(
    tx: &mut junction_store::WorkspaceTx,
    integration: uuid::Uuid,
    metric: &str,
) -> Vec<KpiRow> {
    kpi_points::table
        .filter(kpi_points::integration_id.eq(integration))
        .filter(kpi_points::metric.eq(metric))
        .order((kpi_points::date, kpi_points::dimension_key))
        .select(KpiRow::as_select())
        .load(tx.conn())
        .await
        .unwrap()
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
    let kpis = stored_points(&mut tx, integration, "sessions").await;
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

/// A page bigger than one upsert statement carries (5,000 records, 20,000 KPI
/// points): every row lands once, with its values exact, and writing it again
/// changes nothing.
#[tokio::test]
async fn a_page_of_thousands_of_rows_is_written_whole_and_exactly_once() {
    let db = TestDb::new().await;
    let (ws, _) = create_workspace(db.store(), "A").await;
    let integration = create_integration(db.store(), ws, "stripe").await;
    let modified = chrono::DateTime::parse_from_rfc3339("2026-11-02T03:04:05.123456Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let records: Vec<Record> = (0..5_003)
        .map(|i| Record {
            external_id: format!("ch_{i:05}"),
            data: json!({"id": i, "note": "ünïcode"}),
            // Every other record without a modification time: the nullable column.
            modified_at: (i % 2 == 0).then_some(modified),
        })
        .collect();
    // 7 metrics x 730 days x 4 countries = 20,440 points, three of them kinds of
    // values a text round trip could bend.
    let mut kpis = Vec::new();
    let countries = ["DE", "FR", "US", "A&B=C"];
    for d in 0..730 {
        let date = day(1) + chrono::Duration::days(d);
        for (c, country) in countries.iter().enumerate() {
            for (m, metric) in ["sessions", "engagement_rate", "total_revenue"]
                .iter()
                .chain(&["a", "b", "c", "d"])
                .enumerate()
            {
                let value = match *metric {
                    "engagement_rate" => 0.1 + 0.2,
                    "total_revenue" => 1e-300 * (d as f64 + 1.0),
                    _ => (d * 100 + c as i64 * 10 + m as i64) as f64,
                };
                kpis.push(
                    KpiPoint::total(*metric, date, value).with_dimension("country", *country),
                );
            }
        }
    }
    let big = Page {
        records,
        kpis,
        next_cursor: Some(json!({"after": "ch_05002"})),
        has_more: true,
    };
    let stats = commit_page(db.store(), ws, integration.id, "charges", &big, None)
        .await
        .unwrap();
    assert_eq!(
        (stats.records_written, stats.kpi_points_written),
        (5_003, 20_440)
    );

    let mut tx = db.store().begin(ws).await.unwrap();
    let stored = repo::records::list(tx.conn(), integration.id, "charges", None, None, 500)
        .await
        .unwrap();
    let first = stored.iter().find(|r| r.external_id == "ch_00000").unwrap();
    assert_eq!(first.provider_modified_at, Some(modified));
    assert_eq!(first.data, json!({"id": 0, "note": "ünïcode"}));
    assert_eq!(
        first.content_hash,
        repo::records::content_hash(&first.data),
        "the hash is the one the next upsert compares with"
    );
    let second = stored.iter().find(|r| r.external_id == "ch_00001").unwrap();
    assert_eq!(second.provider_modified_at, None);
    let rates = stored_points(&mut tx, integration.id, "engagement_rate").await;
    assert_eq!(rates.len(), 730 * 4);
    assert!(
        rates
            .iter()
            .all(|p| p.value == 0.1 + 0.2 && p.stream == "charges")
    );
    let odd = rates
        .iter()
        .find(|p| p.dimension_key == "country=A%26B%3DC")
        .unwrap();
    assert_eq!(odd.dimensions, json!({"country": "A&B=C"}));
    let tiny = repo::kpis::series(
        tx.conn(),
        Some(&[integration.id]),
        "total_revenue",
        day(1),
        day(1),
    )
    .await
    .unwrap();
    assert!(tiny.iter().all(|p| p.value == 1e-300), "{tiny:?}");
    tx.commit().await.unwrap();

    // The same page again: nothing is rewritten.
    let again = commit_page(db.store(), ws, integration.id, "charges", &big, None)
        .await
        .unwrap();
    assert_eq!((again.records_written, again.kpi_points_written), (0, 0));
    // One changed record and one changed point are.
    let mut changed = big.clone();
    changed.records[4_999].data = json!({"id": 4_999, "note": "changed"});
    changed.kpis[20_001].value = -1.5;
    let third = commit_page(db.store(), ws, integration.id, "charges", &changed, None)
        .await
        .unwrap();
    assert_eq!((third.records_written, third.kpi_points_written), (1, 1));
}

/// The upserts run as the app role under row-level security: rows claiming another
/// workspace are refused, and nothing of them is written.
#[tokio::test]
async fn upserts_for_another_workspace_are_refused() {
    let db = TestDb::new().await;
    let (a, _) = create_workspace(db.store(), "A").await;
    let (b, _) = create_workspace(db.store(), "B").await;
    let integration_b = create_integration(db.store(), b, "stripe").await;
    let sample = page(&["ch_1"], "ch_1");

    let mut tx = db.store().begin(a).await.unwrap();
    let err = repo::records::upsert(
        tx.conn(),
        b,
        integration_b.id,
        "charges",
        &sample.records,
        None,
    )
    .await
    .unwrap_err();
    assert_refused_by_row_security(&err);
    drop(tx);
    let mut tx = db.store().begin(a).await.unwrap();
    let err = repo::kpis::upsert(tx.conn(), b, integration_b.id, "charges", &sample.kpis)
        .await
        .unwrap_err();
    assert_refused_by_row_security(&err);
    drop(tx);

    let (records, kpis, _) = snapshot(&db, b, integration_b.id).await;
    assert!(records.is_empty() && kpis.is_empty());
}

/// A record marked deleted comes back to life when a page has it again, even
/// unchanged.
#[tokio::test]
async fn a_deleted_record_read_again_is_live_again() {
    let db = TestDb::new().await;
    let (ws, _) = create_workspace(db.store(), "A").await;
    let integration = create_integration(db.store(), ws, "stripe").await;
    let first = page(&["ch_1", "ch_2"], "ch_2");
    commit_page(db.store(), ws, integration.id, "charges", &first, None)
        .await
        .unwrap();
    let mut tx = db.store().begin(ws).await.unwrap();
    let marked = repo::records::mark_deleted(tx.conn(), integration.id, "charges", &["ch_1"])
        .await
        .unwrap();
    assert_eq!(marked, 1);
    tx.commit().await.unwrap();

    let again = commit_page(db.store(), ws, integration.id, "charges", &first, None)
        .await
        .unwrap();
    assert_eq!(
        again.records_written, 1,
        "only the deleted record is rewritten"
    );
    let (records, _, _) = snapshot(&db, ws, integration.id).await;
    assert!(
        records.iter().all(|r| r.deleted_at.is_none()),
        "{records:?}"
    );
}

/// Each record's full-refresh mark and the transaction that last wrote its row.
async fn marks(
    db: &TestDb,
    ws: junction_core::WorkspaceId,
    integration: uuid::Uuid,
) -> Vec<(String, Option<uuid::Uuid>, String)> {
    use diesel::sql_types::{Nullable, Text, Uuid as SqlUuid};
    #[derive(QueryableByName)]
    struct Mark {
        #[diesel(sql_type = Text)]
        external_id: String,
        #[diesel(sql_type = Nullable<SqlUuid>)]
        seen_in_pass: Option<uuid::Uuid>,
        #[diesel(sql_type = Text)]
        written_by: String,
    }
    let mut tx = db.store().begin(ws).await.unwrap();
    let rows: Vec<Mark> = diesel::sql_query(
        "SELECT external_id, seen_in_pass, xmin::text AS written_by FROM records \
         WHERE integration_id = $1 ORDER BY external_id",
    )
    .bind::<SqlUuid, _>(integration)
    .load(tx.conn())
    .await
    .unwrap();
    rows.into_iter()
        .map(|m| (m.external_id, m.seen_in_pass, m.written_by))
        .collect()
}

#[tokio::test]
async fn a_full_refresh_pass_marks_the_rows_it_writes_in_the_same_write() {
    let db = TestDb::new().await;
    let (ws, _) = create_workspace(db.store(), "A").await;
    let integration = create_integration(db.store(), ws, "stripe").await.id;
    let records = page(&["ch_1", "ch_2"], "ch_2").records;
    let upsert = |records: Vec<Record>, pass: Option<uuid::Uuid>| {
        let db = &db;
        async move {
            let mut tx = db.store().begin(ws).await.unwrap();
            let written =
                repo::records::upsert(tx.conn(), ws, integration, "charges", &records, pass)
                    .await
                    .unwrap();
            tx.commit().await.unwrap();
            written
        }
    };
    let mark_seen = |pass: uuid::Uuid| {
        let db = &db;
        async move {
            let mut tx = db.store().begin(ws).await.unwrap();
            repo::records::mark_seen(tx.conn(), integration, "charges", &["ch_1", "ch_2"], pass)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    };

    // New rows written by a pass carry its mark; marking them afterwards writes
    // nothing more.
    let first = uuid::Uuid::new_v4();
    assert_eq!(upsert(records.clone(), Some(first)).await, 2);
    let written = marks(&db, ws, integration).await;
    assert!(
        written.iter().all(|(_, pass, _)| *pass == Some(first)),
        "{written:?}"
    );
    mark_seen(first).await;
    assert_eq!(
        marks(&db, ws, integration).await,
        written,
        "no row written twice"
    );

    // The next pass: an unchanged row is left alone by the upsert and marked by
    // mark_seen; a changed one is marked as it is written.
    let second = uuid::Uuid::new_v4();
    let mut changed = records.clone();
    changed[1].data = json!({"id": "ch_2", "amount": 1300});
    assert_eq!(upsert(changed.clone(), Some(second)).await, 1);
    let after_upsert = marks(&db, ws, integration).await;
    assert_eq!(
        after_upsert[0].1,
        Some(first),
        "ch_1 is unchanged: not written"
    );
    assert_eq!(after_upsert[1].1, Some(second));
    mark_seen(second).await;
    let after_marking = marks(&db, ws, integration).await;
    assert_eq!(after_marking[0].1, Some(second));
    assert_eq!(
        after_marking[1], after_upsert[1],
        "ch_2 was not written again"
    );

    // A write outside any pass (a webhook) keeps the last pass's mark.
    changed[0].data = json!({"id": "ch_1", "amount": 5});
    assert_eq!(upsert(changed, None).await, 1);
    assert_eq!(marks(&db, ws, integration).await[0].1, Some(second));
}
