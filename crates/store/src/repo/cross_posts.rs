//! The `cross_posts` and `cross_post_targets` tables: articles published to several
//! blog integrations, and per platform the action runs that publish and update them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::clamp_limit;
use crate::{
    Conn, StoreError,
    models::{CrossPost, CrossPostTarget},
    schema::{cross_post_targets, cross_posts},
};

/// Records a cross-post. A second one with the same canonical URL in the workspace
/// is a [`StoreError::Conflict`] naming `cross_posts_workspace_id_canonical_url_key`.
pub async fn create(conn: &mut Conn, post: &CrossPost) -> Result<CrossPost, StoreError> {
    Ok(diesel::insert_into(cross_posts::table)
        .values(post)
        .returning(CrossPost::as_returning())
        .get_result(conn)
        .await?)
}

/// Records the platforms of a cross-post.
pub async fn add_targets(conn: &mut Conn, targets: &[CrossPostTarget]) -> Result<(), StoreError> {
    diesel::insert_into(cross_post_targets::table)
        .values(targets)
        .execute(conn)
        .await?;
    Ok(())
}

/// The cross-post of the scoped workspace with this id.
pub async fn get(conn: &mut Conn, id: Uuid) -> Result<CrossPost, StoreError> {
    cross_posts::table
        .find(id)
        .select(CrossPost::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("cross post"))
}

/// The cross-post, locked until the transaction ends (an edit is one at a time).
pub async fn get_for_update(conn: &mut Conn, id: Uuid) -> Result<CrossPost, StoreError> {
    cross_posts::table
        .find(id)
        .for_update()
        .select(CrossPost::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("cross post"))
}

/// The cross-post of this canonical URL, if there is one.
pub async fn find_by_canonical_url(
    conn: &mut Conn,
    canonical_url: &str,
) -> Result<Option<CrossPost>, StoreError> {
    Ok(cross_posts::table
        .filter(cross_posts::canonical_url.eq(canonical_url))
        .select(CrossPost::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Cross-posts, newest first, before the keyset of the previous page.
pub async fn list(
    conn: &mut Conn,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<CrossPost>, StoreError> {
    let mut query = cross_posts::table
        .order((cross_posts::created_at.desc(), cross_posts::id.desc()))
        .limit(clamp_limit(limit))
        .select(CrossPost::as_select())
        .into_boxed();
    if let Some((created_at, id)) = before {
        query = query.filter(
            cross_posts::created_at
                .lt(created_at)
                .or(cross_posts::created_at
                    .eq(created_at)
                    .and(cross_posts::id.lt(id))),
        );
    }
    Ok(query.load(conn).await?)
}

/// The platforms of these cross-posts, in the order they were given.
pub async fn targets_of(conn: &mut Conn, ids: &[Uuid]) -> Result<Vec<CrossPostTarget>, StoreError> {
    Ok(cross_post_targets::table
        .filter(cross_post_targets::cross_post_id.eq_any(ids))
        .order((
            cross_post_targets::cross_post_id,
            cross_post_targets::position,
        ))
        .select(CrossPostTarget::as_select())
        .load(conn)
        .await?)
}

/// Stores an edited article.
pub async fn set_article(
    conn: &mut Conn,
    id: Uuid,
    article: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<CrossPost, StoreError> {
    Ok(diesel::update(cross_posts::table.find(id))
        .set((
            cross_posts::article.eq(article),
            cross_posts::updated_at.eq(now),
        ))
        .returning(CrossPost::as_returning())
        .get_result(conn)
        .await?)
}

/// Records what an edit did on one platform: the update run (none when the edit
/// did not go there) and the notes.
pub async fn set_edit(
    conn: &mut Conn,
    cross_post_id: Uuid,
    integration_id: Uuid,
    update_run_id: Option<Uuid>,
    notes: &[String],
) -> Result<(), StoreError> {
    diesel::update(cross_post_targets::table.find((cross_post_id, integration_id)))
        .set((
            cross_post_targets::update_run_id.eq(update_run_id),
            cross_post_targets::notes.eq(notes),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
