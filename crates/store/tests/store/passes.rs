//! Passes of a stream and deletions: a full-refresh pass marks what it did not see
//! deleted (kept, with `deleted_at`, and listed after `modified_after`), a record
//! read again is live again, a record a webhook wrote during the pass is spared, an
//! incremental stream never infers deletions, a reset ends the pass in progress,
//! and webhook deletions mark records once.

use chrono::{DateTime, Duration, Utc};
use junction_core::{Page, Record, StreamDeletion, WebhookEffects, WorkspaceId};
use junction_store::{
    Store,
    ingest::{Committed, PageStats, SyncPage, apply_effects, commit_sync_page},
    models::{RecordRow, StreamState, SyncRun, SyncTrigger},
    repo::{self, stream_states::ReadStart},
};
use junction_testkit::{TestDb, create_integration, create_workspace};
use serde_json::json;
use uuid::Uuid;

const STREAM: &str = "subscriptions";

fn page(ids: &[&str], has_more: bool) -> Page {
    Page {
        records: ids
            .iter()
            .map(|id| Record {
                external_id: (*id).to_owned(),
                data: json!({"id": id, "status": "active"}),
                modified_at: None,
            })
            .collect(),
        kpis: Vec::new(),
        next_cursor: Some(json!({"after": ids.last()})),
        has_more,
    }
}

struct World {
    db: TestDb,
    ws: WorkspaceId,
    integration: Uuid,
}

impl World {
    async fn new() -> Self {
        let db = TestDb::new().await;
        let (ws, _) = create_workspace(db.store(), "A").await;
        let integration = create_integration(db.store(), ws, "stripe").await.id;
        Self {
            db,
            ws,
            integration,
        }
    }

    fn store(&self) -> &Store {
        self.db.store()
    }

    async fn run(&self) -> SyncRun {
        let mut tx = self.store().begin(self.ws).await.unwrap();
        let run = repo::sync_runs::create_for(
            tx.conn(),
            self.ws,
            self.integration,
            Some(STREAM),
            &[STREAM.to_owned()],
            SyncTrigger::Manual,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        run
    }

    async fn begin(&self) -> ReadStart {
        let mut tx = self.store().begin(self.ws).await.unwrap();
        let start = repo::stream_states::begin_read(tx.conn(), self.ws, self.integration, STREAM)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        start
    }

    /// Commits the pages of one pass in a run; returns each page's stats.
    async fn pass(
        &self,
        run: &SyncRun,
        pages: &[Page],
        full_refresh: bool,
        now: DateTime<Utc>,
    ) -> Vec<PageStats> {
        let start = self.begin().await;
        let mut stats = Vec::new();
        for page in pages {
            match self.commit(run, &start, page, full_refresh, now).await {
                Committed::Page {
                    stats: page_stats,
                    ended_pass,
                } => {
                    assert_eq!(ended_pass, !page.has_more);
                    stats.push(page_stats);
                }
                Committed::Superseded => panic!("no reset happened"),
            }
        }
        stats
    }

    async fn commit(
        &self,
        run: &SyncRun,
        start: &ReadStart,
        page: &Page,
        full_refresh: bool,
        now: DateTime<Utc>,
    ) -> Committed {
        commit_sync_page(
            self.store(),
            self.ws,
            self.integration,
            STREAM,
            page,
            &SyncPage {
                run_id: run.id,
                pass: start,
                full_refresh,
                now,
                default_schedule_seconds: 3600,
            },
        )
        .await
        .unwrap()
    }

    async fn records(&self, modified_after: Option<DateTime<Utc>>) -> Vec<RecordRow> {
        let mut tx = self.store().begin(self.ws).await.unwrap();
        let rows = repo::records::list(
            tx.conn(),
            self.integration,
            STREAM,
            modified_after,
            None,
            500,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        rows
    }

    async fn state(&self) -> StreamState {
        let mut tx = self.store().begin(self.ws).await.unwrap();
        let state = repo::stream_states::get(tx.conn(), self.integration, STREAM)
            .await
            .unwrap()
            .unwrap();
        tx.commit().await.unwrap();
        state
    }

    async fn run_row(&self, id: Uuid) -> SyncRun {
        let mut tx = self.store().begin(self.ws).await.unwrap();
        let run = repo::sync_runs::get(tx.conn(), id).await.unwrap();
        tx.commit().await.unwrap();
        run
    }
}

/// The time now, to Postgres's precision (microseconds).
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap()
}

fn ids(rows: &[RecordRow], deleted: bool) -> Vec<&str> {
    rows.iter()
        .filter(|r| r.deleted_at.is_some() == deleted)
        .map(|r| r.external_id.as_str())
        .collect()
}

#[tokio::test]
async fn a_full_refresh_pass_marks_what_it_did_not_see_deleted() {
    let w = World::new().await;
    let now = now();

    let first = w.run().await;
    let stats = w
        .pass(
            &first,
            &[page(&["sub_a", "sub_b"], true), page(&["sub_c"], false)],
            true,
            now,
        )
        .await;
    assert_eq!(stats.iter().map(|s| s.records_written).sum::<u64>(), 3);
    assert!(stats.iter().all(|s| s.records_deleted == 0));
    let state = w.state().await;
    assert_eq!(state.pass_id, None, "the pass ended");
    assert_eq!(state.last_run_id, Some(first.id));
    assert_eq!(state.last_synced_at, Some(now));
    assert_eq!(state.next_sync_at, Some(now + Duration::hours(1)));
    assert_eq!(state.pages_committed, 2);

    // The next whole read no longer lists sub_b: it is removed upstream.
    let before = w.records(None).await;
    let since = before.iter().map(|r| r.updated_at).max().unwrap();
    let second = w.run().await;
    let stats = w
        .pass(
            &second,
            &[page(&["sub_a"], true), page(&["sub_c"], false)],
            true,
            now + Duration::hours(1),
        )
        .await;
    assert_eq!(
        stats.iter().map(|s| s.records_deleted).collect::<Vec<_>>(),
        [0, 1],
        "marked when the pass ends, not before"
    );
    assert_eq!(stats.iter().map(|s| s.records_written).sum::<u64>(), 0);
    assert_eq!(w.run_row(second.id).await.records_deleted, 1);
    let rows = w.records(None).await;
    assert_eq!(ids(&rows, false), ["sub_a", "sub_c"]);
    assert_eq!(ids(&rows, true), ["sub_b"]);
    let b_before = before.iter().find(|r| r.external_id == "sub_b").unwrap();
    let b_after = rows.iter().find(|r| r.external_id == "sub_b").unwrap();
    assert_eq!(b_after.data, b_before.data, "kept as it was");
    assert!(b_after.updated_at > b_before.updated_at);
    // A follower of changes learns of it, and of nothing else.
    let changed = w.records(Some(since)).await;
    assert_eq!(ids(&changed, true), ["sub_b"]);
    assert!(ids(&changed, false).is_empty());
    assert_eq!(w.state().await.next_sync_at, Some(now + Duration::hours(2)));

    // Listed again, it exists again.
    let third = w.run().await;
    let stats = w
        .pass(
            &third,
            &[page(&["sub_a", "sub_b", "sub_c"], false)],
            true,
            now,
        )
        .await;
    assert_eq!((stats[0].records_written, stats[0].records_deleted), (1, 0));
    let rows = w.records(None).await;
    assert_eq!(ids(&rows, false), ["sub_a", "sub_c", "sub_b"]);
    assert!(ids(&rows, true).is_empty());
}

#[tokio::test]
async fn a_record_written_during_a_pass_is_not_deleted_by_it() {
    let w = World::new().await;
    let run = w.run().await;
    w.pass(&run, &[page(&["sub_a", "sub_b"], false)], true, Utc::now())
        .await;

    let start = w.begin().await;
    w.commit(&run, &start, &page(&["sub_a"], true), true, Utc::now())
        .await;
    // A webhook writes sub_d (and rewrites sub_b) while the pass reads on: the
    // pass may have read their page before they changed.
    let mut effects = WebhookEffects::default();
    for (id, status) in [("sub_d", "active"), ("sub_b", "past_due")] {
        effects.records.push(junction_core::StreamRecord {
            stream: STREAM.to_owned(),
            record: Record {
                external_id: id.to_owned(),
                data: json!({"id": id, "status": status}),
                modified_at: None,
            },
        });
    }
    let mut tx = w.store().begin(w.ws).await.unwrap();
    apply_effects(tx.conn(), w.ws, w.integration, &effects)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let last = w
        .commit(&run, &start, &page(&["sub_c"], false), true, Utc::now())
        .await;
    let Committed::Page { stats, ended_pass } = last else {
        panic!("{last:?}")
    };
    assert!(ended_pass);
    assert_eq!(stats.records_deleted, 0);
    assert!(ids(&w.records(None).await, true).is_empty());
}

#[tokio::test]
async fn an_incremental_stream_never_infers_a_deletion() {
    let w = World::new().await;
    let run = w.run().await;
    w.pass(&run, &[page(&["ch_1", "ch_2"], false)], false, Utc::now())
        .await;
    // The next read starts from the cursor and lists only what changed.
    let stats = w
        .pass(&run, &[page(&["ch_3"], false)], false, Utc::now())
        .await;
    assert_eq!(stats[0].records_deleted, 0);
    assert_eq!(ids(&w.records(None).await, false).len(), 3);
}

#[tokio::test]
async fn a_reset_ends_the_pass_in_progress() {
    let w = World::new().await;
    let run = w.run().await;
    let start = w.begin().await;
    assert_eq!(start.cursor, None);
    w.commit(&run, &start, &page(&["sub_a"], true), true, Utc::now())
        .await;
    assert_eq!(w.state().await.cursor, Some(json!({"after": "sub_a"})));
    let mut tx = w.store().begin(w.ws).await.unwrap();
    assert!(
        repo::stream_states::reset(tx.conn(), w.integration, STREAM)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();

    // The old pass's next page is not written, and moves no cursor.
    let late = w
        .commit(&run, &start, &page(&["sub_b"], false), true, Utc::now())
        .await;
    assert_eq!(late, Committed::Superseded);
    let state = w.state().await;
    assert_eq!((state.cursor, state.pass_id), (None, None));
    assert_eq!(ids(&w.records(None).await, false), ["sub_a"]);
    // The next read starts over, in a pass of its own.
    let again = w.begin().await;
    assert_eq!(again.cursor, None);
    assert_ne!(again.pass_id, start.pass_id);
}

#[tokio::test]
async fn webhook_deletions_mark_records_once() {
    let w = World::new().await;
    let run = w.run().await;
    w.pass(&run, &[page(&["cus_1", "cus_2"], false)], false, Utc::now())
        .await;
    let since = w
        .records(None)
        .await
        .iter()
        .map(|r| r.updated_at)
        .max()
        .unwrap();
    let effects = WebhookEffects {
        deletions: ["cus_1", "cus_unknown"]
            .map(|id| StreamDeletion {
                stream: STREAM.to_owned(),
                external_id: id.to_owned(),
            })
            .to_vec(),
        ..WebhookEffects::default()
    };
    for expected in [1, 0] {
        let mut tx = w.store().begin(w.ws).await.unwrap();
        let stats = apply_effects(tx.conn(), w.ws, w.integration, &effects)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(stats.records_deleted, expected);
    }
    let changed = w.records(Some(since)).await;
    assert_eq!(ids(&changed, true), ["cus_1"]);
    assert_eq!(changed.len(), 1, "an unknown id adds no record");
}
