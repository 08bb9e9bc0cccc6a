//! /v1/cross-posts: one article published to several blog integrations (Dev.to,
//! Hashnode, Medium), each post with the canonical URL pointing home, and edited
//! later where the platform allows (see junction-app's `cross_posts` for the rules:
//! the canonical URL is the article's identity, every platform's publish is a
//! queued action run retried on its own, what a platform cannot take is said in its
//! `notes`).

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use junction_app::{
    cross_posts::{Article, ArticleEdit, CrossPostDetails, NewCrossPost, NewTarget, TargetDetails},
    models::{ActionRun, ActionStatus},
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    auth::Auth,
    error::{ApiResult, Problem},
    extract::{Json, Path, Query},
    pagination::{PageParams, page},
    state::AppState,
};

/// The article every platform gets (adapted to what each takes).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleInput {
    #[schema(schema_with = crate::schema::article_title)]
    pub title: String,
    /// The article in Markdown.
    #[schema(schema_with = crate::schema::article_body)]
    pub body_markdown: String,
    /// Where the article lives at home: every post points there, and no other
    /// cross-post of the workspace may have it.
    #[schema(schema_with = crate::schema::web_url)]
    pub canonical_url: String,
    /// Each platform takes its first few (Dev.to 4, Medium 3); the others are left
    /// out there, and its `notes` say so.
    #[serde(default)]
    #[schema(schema_with = crate::schema::article_tags)]
    pub tags: Vec<String>,
    #[schema(schema_with = crate::schema::article_description_or_null)]
    pub description: Option<String>,
    #[schema(schema_with = crate::schema::web_url_or_null)]
    pub cover_image: Option<String>,
    /// A series the post belongs to, where the platform has series (Dev.to).
    #[schema(schema_with = crate::schema::article_series_or_null)]
    pub series: Option<String>,
    /// `false`: a draft where the platform has drafts. Default `true`.
    #[serde(default = "published_by_default")]
    pub published: bool,
}

fn published_by_default() -> bool {
    true
}

/// One platform the article goes to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetInput {
    /// A blog integration of the workspace (its provider has a `publish_article`
    /// action).
    pub integration_id: Uuid,
    /// Input of that platform's own, sent as given (Hashnode's `publication_id`);
    /// not the article's fields.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub options: Map<String, Value>,
}

/// POST /v1/cross-posts.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCrossPost {
    pub article: ArticleInput,
    /// 1 to 10 integrations, each once.
    #[schema(min_items = 1, max_items = 10)]
    pub targets: Vec<TargetInput>,
}

/// PATCH /v1/cross-posts/{id}: the fields to change (unset ones stay; the
/// canonical URL never changes).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditCrossPost {
    #[schema(schema_with = crate::schema::article_title_or_null)]
    pub title: Option<String>,
    #[schema(schema_with = crate::schema::article_body_or_null)]
    pub body_markdown: Option<String>,
    #[schema(schema_with = crate::schema::article_tags_or_null)]
    pub tags: Option<Vec<String>>,
    #[schema(schema_with = crate::schema::article_description_or_null)]
    pub description: Option<String>,
    #[schema(schema_with = crate::schema::web_url_or_null)]
    pub cover_image: Option<String>,
    #[schema(schema_with = crate::schema::article_series_or_null)]
    pub series: Option<String>,
    pub published: Option<bool>,
}

/// The state of one run on one platform.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunState {
    /// The action run (`GET /v1/action-runs/{id}` has its input and output).
    pub run_id: Uuid,
    /// `queued`, `running`, `succeeded` or `failed`.
    #[schema(schema_with = crate::schema::action_status)]
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub attempts: i32,
}

impl From<&ActionRun> for RunState {
    fn from(run: &ActionRun) -> Self {
        Self {
            run_id: run.id,
            status: run.status.as_str().to_owned(),
            error_code: run.error_code.clone(),
            error_message: run.error_message.clone(),
            attempts: run.attempts,
        }
    }
}

/// One platform of a cross-post.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetView {
    pub integration_id: Uuid,
    pub provider: String,
    /// The post's id there, once published.
    pub post_id: Option<String>,
    /// The post's URL there, once published.
    pub url: Option<String>,
    pub publish: RunState,
    /// The last edit sent there, if any.
    pub edit: Option<RunState>,
    /// What the platform could not take: tags beyond its limit, fields it lacks, an
    /// edit it does not allow.
    pub notes: Vec<String>,
    #[schema(value_type = Object)]
    pub options: Value,
}

impl From<TargetDetails> for TargetView {
    fn from(target: TargetDetails) -> Self {
        Self {
            integration_id: target.target.integration_id,
            provider: target.provider.clone(),
            post_id: target.post_id(),
            url: target.url(),
            publish: RunState::from(&target.publish),
            edit: target.update.as_ref().map(RunState::from),
            notes: target.target.notes,
            options: target.target.options,
        }
    }
}

/// A cross-post.
#[derive(Debug, Serialize, ToSchema)]
pub struct CrossPostView {
    pub id: Uuid,
    pub canonical_url: String,
    /// The article as last written.
    #[schema(value_type = Object)]
    pub article: Value,
    /// `pending` while a platform's publish runs; then `published` (everywhere),
    /// `partial` or `failed` (everywhere).
    #[schema(schema_with = cross_post_status)]
    pub status: String,
    pub targets: Vec<TargetView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn cross_post_status() -> utoipa::openapi::Object {
    crate::schema::one_of(["pending", "published", "partial", "failed"])
}

impl From<CrossPostDetails> for CrossPostView {
    fn from(details: CrossPostDetails) -> Self {
        let statuses: Vec<ActionStatus> =
            details.targets.iter().map(|t| t.publish.status).collect();
        let done = |status: &ActionStatus| {
            matches!(status, ActionStatus::Succeeded | ActionStatus::Failed)
        };
        let status = if !statuses.iter().all(done) {
            "pending"
        } else if statuses.iter().all(|s| *s == ActionStatus::Succeeded) {
            "published"
        } else if statuses.iter().all(|s| *s == ActionStatus::Failed) {
            "failed"
        } else {
            "partial"
        };
        Self {
            id: details.post.id,
            canonical_url: details.post.canonical_url,
            article: details.post.article,
            status: status.to_owned(),
            targets: details.targets.into_iter().map(TargetView::from).collect(),
            created_at: details.post.created_at,
            updated_at: details.post.updated_at,
        }
    }
}

/// A page of cross-posts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CrossPostList {
    pub data: Vec<CrossPostView>,
    pub next_cursor: Option<String>,
}

/// Publishes an article to every blog integration listed: each platform's publish
/// goes on the action queue (retried there on its own when a platform fails), and
/// the answer shows them `queued`; follow them at GET /v1/cross-posts/{id}.
#[utoipa::path(
    tag = "cross-posts",
    request_body = CreateCrossPost,
    responses(
        (status = 202, body = CrossPostView, description = "Recorded; every platform's publish is queued"),
        (status = 400, body = Problem, description = "`unsupported_operation`: an integration's provider cannot publish articles"),
        (status = 404, body = Problem, description = "`integration_not_found`"),
        (status = 409, body = Problem, description = "`cross_post_exists`: an article with this canonical URL is already cross-posted (edit it instead); `integration_needs_reauth` or `integration_needs_setup`; or the `Idempotency-Key` was used otherwise or is in flight"),
        (status = 422, body = Problem, description = "`validation_failed`: a field of the article, or a platform's input (`targets[i]...`)"),
        (status = 503, body = Problem, description = "`database_unavailable`")
    ),
    security(("api_key" = []))
)]
#[post("/v1/cross-posts")]
pub async fn create(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<CreateCrossPost>,
) -> ApiResult<HttpResponse> {
    let CreateCrossPost { article, targets } = body.into_inner();
    let details = state
        .app
        .create_cross_post(
            auth.workspace_id,
            NewCrossPost {
                article: Article {
                    title: article.title,
                    body_markdown: article.body_markdown,
                    canonical_url: article.canonical_url,
                    tags: article.tags,
                    description: article.description,
                    cover_image: article.cover_image,
                    series: article.series,
                    published: article.published,
                },
                targets: targets
                    .into_iter()
                    .map(|target| NewTarget {
                        integration_id: target.integration_id,
                        options: target.options,
                    })
                    .collect(),
            },
        )
        .await?;
    let view = CrossPostView::from(details);
    Ok(HttpResponse::Accepted()
        .insert_header(("Location", format!("/v1/cross-posts/{}", view.id)))
        .json(view))
}

/// The workspace's cross-posts, newest first.
#[utoipa::path(
    tag = "cross-posts",
    params(PageParams),
    responses((status = 200, body = CrossPostList), (status = 400, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/cross-posts")]
pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    params: Query<PageParams>,
) -> ApiResult<web::Json<CrossPostList>> {
    let listed = state
        .app
        .cross_posts(auth.workspace_id, params.request()?)
        .await?;
    let (data, next_cursor) = page(listed, CrossPostView::from);
    Ok(web::Json(CrossPostList { data, next_cursor }))
}

/// One cross-post, with every platform's state.
#[utoipa::path(
    tag = "cross-posts",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = CrossPostView),
        (status = 404, body = Problem, description = "`not_found`")
    ),
    security(("api_key" = []))
)]
#[get("/v1/cross-posts/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
) -> ApiResult<web::Json<CrossPostView>> {
    let details = state
        .app
        .cross_post(auth.workspace_id, path.into_inner())
        .await?;
    Ok(web::Json(CrossPostView::from(details)))
}

/// Edits the article: stored at once, and sent (queued) to every platform where it
/// was published and whose API can edit posts; a platform that cannot (Medium)
/// keeps the first version and its `notes` say so. An edit that changes nothing
/// sends nothing.
#[utoipa::path(
    tag = "cross-posts",
    params(("id" = Uuid, Path)),
    request_body = EditCrossPost,
    responses(
        (status = 200, body = CrossPostView),
        (status = 404, body = Problem, description = "`not_found`"),
        (status = 409, body = Problem, description = "`conflict`: a publish or an earlier edit is still running (retry after it); `integration_needs_reauth`"),
        (status = 422, body = Problem, description = "`validation_failed`: a field, or a platform's input (`targets[i]...`)")
    ),
    security(("api_key" = []))
)]
#[patch("/v1/cross-posts/{id}")]
pub async fn edit(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
    body: Json<EditCrossPost>,
) -> ApiResult<web::Json<CrossPostView>> {
    let body = body.into_inner();
    let details = state
        .app
        .edit_cross_post(
            auth.workspace_id,
            path.into_inner(),
            ArticleEdit {
                title: body.title,
                body_markdown: body.body_markdown,
                tags: body.tags,
                description: body.description,
                cover_image: body.cover_image,
                series: body.series,
                published: body.published,
            },
        )
        .await?;
    Ok(web::Json(CrossPostView::from(details)))
}
