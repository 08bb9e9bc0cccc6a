//! A workspace's jobs per queue, counted from the rows they serve (sync runs,
//! webhook events, queued action runs, notifications, outbound webhook deliveries)
//! and its dead letters: the figures a workspace key sees at `GET /v1/jobs/stats`.
//! Row-level security scopes every count to the transaction's workspace; the queues
//! in Redis, shared by every workspace, are an operator's view.

use chrono::{DateTime, Utc};
use diesel::{QueryableByName, sql_types};
use diesel_async::RunQueryDsl;

use crate::{Conn, StoreError, models::Queue};

/// One queue's jobs of the scoped workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueFigures {
    pub queue: Queue,
    /// Waiting for a worker (queued, received, pending).
    pub waiting: i64,
    /// Being run.
    pub running: i64,
    /// Waiting for a retry after a failed attempt.
    pub retrying: i64,
    /// Dead letters not replayed.
    pub dead: i64,
    /// When the oldest waiting one was queued.
    pub oldest_waiting: Option<DateTime<Utc>>,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = sql_types::Text)]
    queue: String,
    #[diesel(sql_type = sql_types::BigInt)]
    waiting: i64,
    #[diesel(sql_type = sql_types::BigInt)]
    running: i64,
    #[diesel(sql_type = sql_types::BigInt)]
    retrying: i64,
    #[diesel(sql_type = sql_types::BigInt)]
    dead: i64,
    #[diesel(sql_type = sql_types::Nullable<sql_types::Timestamptz>)]
    oldest_waiting: Option<DateTime<Utc>>,
}

/// The scoped workspace's figures, one entry per queue (in [`Queue::ALL`] order).
pub async fn of_workspace(conn: &mut Conn) -> Result<Vec<QueueFigures>, StoreError> {
    let rows: Vec<Row> = diesel::sql_query(
        "WITH live AS ( \
             SELECT 'sync' AS queue, \
                    count(*) FILTER (WHERE status = 'queued') AS waiting, \
                    count(*) FILTER (WHERE status = 'running') AS running, \
                    count(*) FILTER (WHERE status = 'retrying') AS retrying, \
                    min(queued_at) FILTER (WHERE status = 'queued') AS oldest_waiting \
             FROM sync_runs WHERE status IN ('queued', 'running', 'retrying') \
             UNION ALL \
             SELECT 'webhook', count(*) FILTER (WHERE status = 'received'), \
                    count(*) FILTER (WHERE status = 'processing'), 0, \
                    min(received_at) FILTER (WHERE status = 'received') \
             FROM webhook_events WHERE status IN ('received', 'processing') \
             UNION ALL \
             SELECT 'action', count(*) FILTER (WHERE status = 'queued'), \
                    count(*) FILTER (WHERE status = 'running'), 0, \
                    min(created_at) FILTER (WHERE status = 'queued') \
             FROM action_runs WHERE mode = 'queued' AND status IN ('queued', 'running') \
             UNION ALL \
             SELECT 'notify', count(*), 0, 0, min(created_at) \
             FROM notifications WHERE status = 'pending' \
             UNION ALL \
             SELECT 'outbound', count(*) FILTER (WHERE attempts = 0), 0, \
                    count(*) FILTER (WHERE attempts > 0), \
                    min(created_at) FILTER (WHERE attempts = 0) \
             FROM outbound_deliveries WHERE status = 'pending' \
         ), dead AS ( \
             SELECT queue, count(*) AS dead FROM dead_letters \
             WHERE replayed_at IS NULL GROUP BY queue \
         ) \
         SELECT live.queue, live.waiting, live.running, live.retrying::bigint AS retrying, \
                coalesce(dead.dead, 0) AS dead, live.oldest_waiting \
         FROM live LEFT JOIN dead ON dead.queue = live.queue",
    )
    .load(conn)
    .await?;
    let mut figures: Vec<QueueFigures> = rows
        .into_iter()
        .filter_map(|row| {
            Some(QueueFigures {
                queue: Queue::parse(&row.queue)?,
                waiting: row.waiting,
                running: row.running,
                retrying: row.retrying,
                dead: row.dead,
                oldest_waiting: row.oldest_waiting,
            })
        })
        .collect();
    figures.sort_by_key(|f| Queue::ALL.iter().position(|q| *q == f.queue));
    Ok(figures)
}
