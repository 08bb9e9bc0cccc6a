//! The reconciliation sweep's cross-tenant paths (see the migration that creates
//! them): its lease, the rows of every workspace still waiting for a job, and the
//! release of scheduler claims whose run never started. Each goes through a narrow
//! SECURITY DEFINER function on an unscoped connection and returns ids only; the
//! sweep reads the rows themselves in their workspace's scope.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::{
    QueryableByName,
    sql_types::{Bool, Double, Integer, Nullable, Text, Timestamptz},
};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{Conn, StoreError, models::Queue};

/// Takes the installation-wide lease `name` for `holder` (or renews it when the
/// holder already has it); `false` while another holder's lease runs.
pub async fn take_lease(
    conn: &mut Conn,
    name: &str,
    holder: &str,
    lease: Duration,
) -> Result<bool, StoreError> {
    #[derive(QueryableByName)]
    struct Taken {
        #[diesel(sql_type = Bool)]
        taken: bool,
    }
    let row: Taken =
        diesel::sql_query("SELECT junction_take_lease($1, $2, make_interval(secs => $3)) AS taken")
            .bind::<Text, _>(name)
            .bind::<Text, _>(holder)
            .bind::<Double, _>(lease.as_secs_f64())
            .get_result(conn)
            .await?;
    Ok(row.taken)
}

/// A row still waiting for its job.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Unfinished {
    /// The queue its job runs on (`sync`, `webhook`, `action`, `notify`).
    #[diesel(sql_type = Text)]
    pub queue: String,
    /// The sync run, webhook event, action run or notification.
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub row_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub workspace_id: Uuid,
    /// Its last change (queued, started or received).
    #[diesel(sql_type = Timestamptz)]
    pub since: DateTime<Utc>,
}

impl Unfinished {
    /// The queue, parsed.
    pub fn queue(&self) -> Option<Queue> {
        Queue::parse(&self.queue)
    }

    /// The keyset position of this row, for the next page.
    pub fn position(&self) -> (DateTime<Utc>, Uuid) {
        (self.since, self.row_id)
    }
}

/// Up to `limit` rows of every workspace waiting for their job whose last change is
/// older than `grace` (by the database's clock), oldest first, after the keyset
/// position `after`.
pub async fn unfinished(
    conn: &mut Conn,
    grace: Duration,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i32,
) -> Result<Vec<Unfinished>, StoreError> {
    let (after_at, after_id) = after.unzip();
    Ok(diesel::sql_query(
        "SELECT queue, row_id, workspace_id, since FROM junction_unfinished_jobs(make_interval(secs => $1), $2, $3, $4)",
    )
    .bind::<Double, _>(grace.as_secs_f64())
    .bind::<Nullable<Timestamptz>, _>(after_at)
    .bind::<Nullable<diesel::sql_types::Uuid>, _>(after_id)
    .bind::<Integer, _>(limit.max(1))
    .load(conn)
    .await?)
}

/// Makes integrations claimed by the scheduler more than `grace` ago whose run never
/// started (the claiming worker died) due again now. Returns how many.
pub async fn release_stale_claims(conn: &mut Conn, grace: Duration) -> Result<i32, StoreError> {
    #[derive(QueryableByName)]
    struct Released {
        #[diesel(sql_type = Integer)]
        released: i32,
    }
    let row: Released = diesel::sql_query(
        "SELECT junction_release_stale_claims(make_interval(secs => $1)) AS released",
    )
    .bind::<Double, _>(grace.as_secs_f64())
    .get_result(conn)
    .await?;
    Ok(row.released)
}
