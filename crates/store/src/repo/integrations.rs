//! The `integrations` table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::clamp_limit;
use crate::{
    Conn, StoreError,
    models::{Health, Integration, IntegrationStatus, NewIntegration},
    schema::integrations,
};

/// Inserts an integration of the scoped workspace.
pub async fn insert(conn: &mut Conn, new: &NewIntegration) -> Result<Integration, StoreError> {
    Ok(diesel::insert_into(integrations::table)
        .values(new)
        .returning(Integration::as_returning())
        .get_result(conn)
        .await?)
}

/// One integration of the scoped workspace, or `NotFound("integration")` (also for
/// another workspace's id: row-level security hides it).
pub async fn get(conn: &mut Conn, id: Uuid) -> Result<Integration, StoreError> {
    integrations::table
        .find(id)
        .select(Integration::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("integration"))
}

/// The same, locking the row for update (token refresh is single-flight on it).
pub async fn get_for_update(conn: &mut Conn, id: Uuid) -> Result<Integration, StoreError> {
    integrations::table
        .find(id)
        .for_update()
        .select(Integration::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("integration"))
}

/// Several integrations of the scoped workspace, locked for update, in id order
/// (the order every locker of several takes them in); ids not found are missing
/// from the answer.
pub async fn get_many_for_update(
    conn: &mut Conn,
    ids: &[Uuid],
) -> Result<Vec<Integration>, StoreError> {
    Ok(integrations::table
        .filter(integrations::id.eq_any(ids))
        .order(integrations::id)
        .for_update()
        .select(Integration::as_select())
        .load(conn)
        .await?)
}

/// Ends the scheduler's claim on integrations: their runs have started (in this
/// transaction), so the claim is no longer stale when a run outlives the sweep's
/// grace period.
pub async fn clear_claims(conn: &mut Conn, ids: &[Uuid]) -> Result<(), StoreError> {
    diesel::update(integrations::table.filter(integrations::id.eq_any(ids)))
        .set(integrations::claimed_at.eq(None::<DateTime<Utc>>))
        .execute(conn)
        .await?;
    Ok(())
}

/// A page of the scoped workspace's integrations in creation order, after the
/// keyset `(created_at, id)` of the previous page's last row.
pub async fn list(
    conn: &mut Conn,
    after: Option<(DateTime<Utc>, Uuid)>,
    filter: &IntegrationFilter,
    limit: i64,
) -> Result<Vec<Integration>, StoreError> {
    let mut query = integrations::table
        .select(Integration::as_select())
        .order((integrations::created_at, integrations::id))
        .limit(clamp_limit(limit))
        .into_boxed();
    if let Some((created_at, id)) = after {
        query = query.filter(
            integrations::created_at
                .gt(created_at)
                .or(integrations::created_at
                    .eq(created_at)
                    .and(integrations::id.gt(id))),
        );
    }
    if let Some(provider) = &filter.provider {
        query = query.filter(integrations::provider.eq(provider.clone()));
    }
    if let Some(end_user_id) = &filter.end_user_id {
        query = query.filter(integrations::end_user_id.eq(end_user_id.clone()));
    }
    match &filter.tag {
        Some(TagFilter::Key(key)) => {
            query = query.filter(integrations::tags.has_key(key.clone()));
        }
        Some(TagFilter::Value(key, value)) => {
            // `@>` on the GIN index: the tags hold this pair.
            query = query.filter(
                integrations::tags.contains(Some(serde_json::json!({ key.as_str(): value }))),
            );
        }
        None => {}
    }
    Ok(query.load(conn).await?)
}

/// Which integrations a list shows; `None` does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrationFilter {
    pub provider: Option<String>,
    /// Connected for this end user (through a connect session).
    pub end_user_id: Option<String>,
    pub tag: Option<TagFilter>,
}

/// A filter on an integration's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagFilter {
    /// The tags have this key, whatever its value.
    Key(String),
    /// The tags map this key to this value.
    Value(String, String),
}

/// Sets who a new integration was connected for, by which connect session: the
/// session's end user and tags. The unique index on (session, provider) refuses a
/// second integration of one provider through one session.
pub async fn set_end_user(
    conn: &mut Conn,
    id: Uuid,
    end_user_id: &str,
    end_user: &serde_json::Value,
    tags: &serde_json::Value,
    connect_session_id: Uuid,
) -> Result<Integration, StoreError> {
    diesel::update(integrations::table.find(id))
        .set((
            integrations::end_user_id.eq(Some(end_user_id)),
            integrations::end_user.eq(Some(end_user)),
            integrations::tags.eq(Some(tags)),
            integrations::connect_session_id.eq(Some(connect_session_id)),
        ))
        .returning(Integration::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("integration"))
}

/// Changes to the user-editable settings of an integration; `None` keeps a value.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = integrations)]
pub struct IntegrationPatch {
    pub display_name: Option<String>,
    pub config: Option<serde_json::Value>,
    pub schedule_seconds: Option<i32>,
    pub sync_enabled: Option<bool>,
    pub status: Option<IntegrationStatus>,
    pub scopes: Option<Vec<String>>,
    pub token_expires_at: Option<Option<DateTime<Utc>>>,
    pub next_sync_at: Option<Option<DateTime<Utc>>>,
}

/// Applies a patch and bumps `updated_at`.
pub async fn update(
    conn: &mut Conn,
    id: Uuid,
    patch: &IntegrationPatch,
) -> Result<Integration, StoreError> {
    diesel::update(integrations::table.find(id))
        .set((patch, integrations::updated_at.eq(diesel::dsl::now)))
        .returning(Integration::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("integration"))
}

/// Moves an integration to a status, remembering the error that caused it (if any).
///
/// Health follows a lost grant: moving to `needs_reauth` sets the health to
/// `needs_reauth` (with the reason, when it moved), so the integration does not keep showing
/// its last good check; moving out of it leaves the health `unknown` until the next
/// check (a reconnect records one).
pub async fn set_status(
    conn: &mut Conn,
    id: Uuid,
    status: IntegrationStatus,
    error: Option<(&str, &str)>,
) -> Result<Integration, StoreError> {
    let (code, message) = error.map_or((None, None), |(c, m)| (Some(c), Some(m)));
    if status == IntegrationStatus::NeedsReauth {
        // Only when it moves into the state: the first refusal's reason and time stay.
        diesel::update(
            integrations::table
                .find(id)
                .filter(integrations::status.ne(IntegrationStatus::NeedsReauth)),
        )
        .set((
            integrations::health.eq(Health::NeedsReauth),
            integrations::health_message.eq(message),
            integrations::health_checked_at.eq(Some(chrono::Utc::now())),
        ))
        .execute(conn)
        .await?;
    } else {
        diesel::update(
            integrations::table
                .find(id)
                .filter(integrations::health.eq(Health::NeedsReauth)),
        )
        .set((
            integrations::health.eq(Health::Unknown),
            integrations::health_message.eq(None::<String>),
            integrations::health_checked_at.eq(None::<DateTime<Utc>>),
        ))
        .execute(conn)
        .await?;
    }
    diesel::update(integrations::table.find(id))
        .set((
            integrations::status.eq(status),
            integrations::last_error_code.eq(code),
            integrations::last_error_message.eq(message),
            integrations::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Integration::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("integration"))
}

/// Stores the outcome of a health check.
pub async fn record_health(
    conn: &mut Conn,
    id: Uuid,
    health: Health,
    message: Option<&str>,
) -> Result<Integration, StoreError> {
    diesel::update(integrations::table.find(id))
        .set((
            integrations::health.eq(health),
            integrations::health_message.eq(message),
            integrations::health_checked_at.eq(Some(chrono::Utc::now())),
        ))
        .returning(Integration::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("integration"))
}

/// Records a finished sync at `at`, and when the integration is due next (its
/// earliest enabled stream; `None`: no stream is).
pub async fn record_sync_finished(
    conn: &mut Conn,
    id: Uuid,
    at: DateTime<Utc>,
    next_sync_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    diesel::update(integrations::table.find(id))
        .set((
            integrations::last_sync_at.eq(Some(at)),
            integrations::next_sync_at.eq(next_sync_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes an integration and, through the foreign keys, everything it owns.
pub async fn delete(conn: &mut Conn, id: Uuid) -> Result<(), StoreError> {
    let deleted = diesel::delete(integrations::table.find(id))
        .execute(conn)
        .await?;
    if deleted == 0 {
        return Err(StoreError::NotFound("integration"));
    }
    Ok(())
}

/// The scoped workspace's active integrations of any of `providers`, oldest first.
pub async fn active_of(
    conn: &mut Conn,
    providers: &[&str],
    limit: i64,
) -> Result<Vec<Integration>, StoreError> {
    Ok(integrations::table
        .filter(integrations::status.eq(IntegrationStatus::Active))
        .filter(integrations::provider.eq_any(providers.iter().map(|p| (*p).to_owned())))
        .order((integrations::created_at, integrations::id))
        .limit(clamp_limit(limit))
        .select(Integration::as_select())
        .load(conn)
        .await?)
}

/// An integration the scheduler claimed.
#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub integration_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub workspace_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub provider: String,
    /// When it was due (before the claim moved it).
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    pub due_at: Option<DateTime<Utc>>,
}

/// The scheduler's claim: up to `limit` integrations of every workspace due at
/// `now` (the application's clock, which every schedule is computed with), each
/// moved past `lease` so no other pod claims it meanwhile (cross-tenant path:
/// `junction_claim_due_integrations`, one statement with `FOR UPDATE SKIP LOCKED`).
pub async fn claim_due(
    conn: &mut Conn,
    limit: i32,
    lease: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<Vec<Claimed>, StoreError> {
    Ok(diesel::sql_query(
        "SELECT integration_id, workspace_id, provider, due_at \
         FROM junction_claim_due_integrations($1, make_interval(secs => $2), $3)",
    )
    .bind::<diesel::sql_types::Integer, _>(limit.max(1))
    .bind::<diesel::sql_types::Double, _>(lease.as_secs_f64())
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .load(conn)
    .await?)
}

/// An integration that lost its grant outside a sync, its owner not told yet.
#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct UnnotifiedReauth {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub integration_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub workspace_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub reason: Option<String>,
}

/// Up to `limit` integrations of every workspace that need a reconnect nobody was
/// told about (cross-tenant path: `junction_unnotified_reauth`).
pub async fn unnotified_reauth(
    conn: &mut Conn,
    limit: i32,
) -> Result<Vec<UnnotifiedReauth>, StoreError> {
    Ok(diesel::sql_query(
        "SELECT integration_id, workspace_id, reason FROM junction_unnotified_reauth($1)",
    )
    .bind::<diesel::sql_types::Integer, _>(limit.max(1))
    .load(conn)
    .await?)
}

/// The id and provider of every integration of the scoped workspace: what a
/// workspace-wide KPI query needs to read each integration's points by its
/// provider's metric specs.
pub async fn providers(conn: &mut Conn) -> Result<Vec<(Uuid, String)>, StoreError> {
    Ok(integrations::table
        .select((integrations::id, integrations::provider))
        .order(integrations::created_at)
        .load(conn)
        .await?)
}
