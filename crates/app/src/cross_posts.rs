//! Cross-posting: one article published to several blog integrations (Dev.to,
//! Hashnode, Medium, any provider with a `publish_article` action), each post with
//! the canonical URL pointing home, and edited later where the platform allows.
//!
//! A cross-post is a workspace resource whose canonical URL is its identity: a
//! second article with the same URL is refused (`cross_post_exists`), so no
//! platform gets an article twice however a client retries (the `Idempotency-Key`
//! replays the first answer besides). Each platform's publish is a queued action
//! run, recorded with the cross-post and its job staged in the same transaction:
//! nothing is half-written, and a platform that fails is retried on the action
//! queue with the retry policy, under the same provider idempotency key (derived
//! from the cross-post), which the blog adapters use to find a post an earlier
//! attempt created before publishing again. The answer lists every platform with
//! its run's status, post id and URL.
//!
//! What one platform cannot take is adapted for it and said in its `notes`: tags
//! beyond its limit are left out, fields its action has no input for are not sent.
//! An edit runs `update_article` where the provider declares it; where it does not
//! (Medium's API cannot edit posts), the platform keeps the first version and its
//! notes say so.

use std::collections::{BTreeSet, HashMap};

use junction_core::{ErrorCode, WorkspaceId, spec::ActionSpec, spec::FieldError};
use junction_store::{
    StoreError, WorkspaceTx,
    models::{ActionRun, ActionStatus, CrossPost, CrossPostTarget, Integration},
    repo::{self, action_runs::NewActionRun},
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{
    App, Error, Listed, PageRequest, Result, actions::provider_idempotency_key,
    actions::queue_action, listed,
};

/// The action a blog provider publishes an article with.
pub const PUBLISH_ACTION: &str = "publish_article";
/// The action a blog provider edits a published article with.
pub const UPDATE_ACTION: &str = "update_article";

/// Most platforms one cross-post goes to.
pub const MAX_TARGETS: usize = 10;
/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 250;
/// Longest body, in characters of Markdown.
pub const MAX_BODY_CHARS: usize = 400_000;
/// Most tags an article carries (each platform takes its own first few).
pub const MAX_TAGS: usize = 10;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 50;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// Longest series name, in characters.
pub const MAX_SERIES_CHARS: usize = 100;

/// The article, as every platform gets it (adapted to what each takes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Article {
    pub title: String,
    pub body_markdown: String,
    /// Where the article lives at home: every post points there.
    pub canonical_url: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cover_image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// `false`: a draft where the platform has drafts.
    pub published: bool,
}

/// Changes to an article (unset fields stay; the canonical URL never changes).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArticleEdit {
    pub title: Option<String>,
    pub body_markdown: Option<String>,
    pub tags: Option<Vec<String>>,
    pub description: Option<String>,
    pub cover_image: Option<String>,
    pub series: Option<String>,
    pub published: Option<bool>,
}

/// One platform a new cross-post goes to.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTarget {
    pub integration_id: Uuid,
    /// Input of that platform's own (a Hashnode `publication_id`), sent as given.
    pub options: Map<String, Value>,
}

/// A cross-post a client asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCrossPost {
    pub article: Article,
    pub targets: Vec<NewTarget>,
}

/// A cross-post with each platform's runs.
#[derive(Debug, Clone)]
pub struct CrossPostDetails {
    pub post: CrossPost,
    pub targets: Vec<TargetDetails>,
}

/// One platform of a cross-post.
#[derive(Debug, Clone)]
pub struct TargetDetails {
    pub target: CrossPostTarget,
    pub provider: String,
    pub publish: ActionRun,
    pub update: Option<ActionRun>,
}

impl TargetDetails {
    /// The post's id on the platform, once published.
    pub fn post_id(&self) -> Option<String> {
        post_id(&self.publish)
    }

    /// The post's URL on the platform: the latest run's answer that has one.
    pub fn url(&self) -> Option<String> {
        [self.update.as_ref(), Some(&self.publish)]
            .into_iter()
            .flatten()
            .filter(|run| run.status == ActionStatus::Succeeded)
            .find_map(|run| {
                run.output
                    .as_ref()
                    .and_then(|output| output.get("url"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
    }
}

fn post_id(run: &ActionRun) -> Option<String> {
    if run.status != ActionStatus::Succeeded {
        return None;
    }
    run.output
        .as_ref()
        .and_then(|output| output.get("id"))
        .and_then(|id| match id {
            Value::String(id) => Some(id.clone()),
            Value::Number(id) => Some(id.to_string()),
            _ => None,
        })
        .or_else(|| run.external_id.clone())
}

impl App {
    /// Publishes an article to every platform listed (see the module docs). Every
    /// platform's input is checked before anything is stored.
    pub async fn create_cross_post(
        &self,
        workspace_id: WorkspaceId,
        request: NewCrossPost,
    ) -> Result<CrossPostDetails> {
        let NewCrossPost { article, targets } = request;
        check_article(&article)?;
        check_targets(&targets)?;
        let id = Uuid::new_v4();
        let mut tx = self.begin(workspace_id).await?;
        if let Some(existing) =
            repo::cross_posts::find_by_canonical_url(tx.conn(), &article.canonical_url).await?
        {
            return Err(exists(existing.id));
        }
        // Every platform's input, checked, before anything is written.
        let mut planned = Vec::with_capacity(targets.len());
        let mut errors = Vec::new();
        for (index, target) in targets.iter().enumerate() {
            let integration = crate::integration(&mut tx, target.integration_id).await?;
            crate::integrations::ensure_active(&integration)?;
            let action = self
                .blog_action(&integration, PUBLISH_ACTION)?
                .ok_or_else(|| {
                    Error::new(
                        ErrorCode::UnsupportedOperation,
                        format!(
                            "integration {} ({}) cannot publish articles: its provider has no \
                         `{PUBLISH_ACTION}` action",
                            integration.id, integration.provider
                        ),
                    )
                })?;
            let (input, notes) = platform_input(&action, &article, &target.options, None);
            let prefix = format!("targets[{index}]");
            let option_clash = target
                .options
                .keys()
                .filter(|key| ARTICLE_FIELDS.contains(&key.as_str()))
                .map(|key| {
                    FieldError::new(
                        &format!("{prefix}.options.{key}"),
                        "is a field of the article: set it there",
                    )
                });
            errors.extend(option_clash);
            if let Err(fields) = action.validate_input(&input) {
                errors.extend(fields.into_iter().map(|field| under(&prefix, field)));
            }
            planned.push((integration, input, notes));
        }
        if !errors.is_empty() {
            return Err(Error::validation(errors));
        }
        let now = self.now();
        let post = repo::cross_posts::create(
            tx.conn(),
            &CrossPost {
                id,
                workspace_id: workspace_id.as_uuid(),
                canonical_url: article.canonical_url.clone(),
                article: serde_json::to_value(&article).map_err(Error::internal)?,
                created_at: now,
                updated_at: now,
            },
        )
        .await
        .map_err(|error| match error {
            // Another request with the same URL won the race.
            StoreError::Conflict(_) => Error::new(
                ErrorCode::CrossPostExists,
                "an article with this canonical URL is already cross-posted",
            ),
            other => other.into(),
        })?;
        let mut rows = Vec::with_capacity(planned.len());
        for ((integration, input, notes), (position, target)) in
            planned.into_iter().zip(targets.into_iter().enumerate())
        {
            let run = stage(
                &mut tx,
                workspace_id,
                &integration,
                PUBLISH_ACTION,
                &input,
                id,
            )
            .await?;
            rows.push(CrossPostTarget {
                cross_post_id: id,
                workspace_id: workspace_id.as_uuid(),
                integration_id: integration.id,
                position: i16::try_from(position).unwrap_or(i16::MAX),
                options: Value::Object(target.options),
                publish_run_id: run.id,
                update_run_id: None,
                notes,
            });
        }
        repo::cross_posts::add_targets(tx.conn(), &rows).await?;
        let details = self.details_of(&mut tx, vec![post]).await?;
        tx.commit().await?;
        details.into_iter().next().ok_or_else(|| {
            Error::internal(anyhow::anyhow!(
                "a cross-post just written was not read back"
            ))
        })
    }

    /// One cross-post with every platform's state.
    pub async fn cross_post(
        &self,
        workspace_id: WorkspaceId,
        id: Uuid,
    ) -> Result<CrossPostDetails> {
        let mut tx = self.begin(workspace_id).await?;
        let post = repo::cross_posts::get(tx.conn(), id).await?;
        let details = self.details_of(&mut tx, vec![post]).await?;
        tx.commit().await?;
        details
            .into_iter()
            .next()
            .ok_or_else(|| Error::internal(anyhow::anyhow!("a cross-post was not read back")))
    }

    /// The workspace's cross-posts, newest first.
    pub async fn cross_posts(
        &self,
        workspace_id: WorkspaceId,
        page: PageRequest<(chrono::DateTime<chrono::Utc>, Uuid)>,
    ) -> Result<Listed<CrossPostDetails, (chrono::DateTime<chrono::Utc>, Uuid)>> {
        let mut tx = self.begin(workspace_id).await?;
        let posts = repo::cross_posts::list(tx.conn(), page.after, page.limit + 1).await?;
        let details = self.details_of(&mut tx, posts).await?;
        tx.commit().await?;
        Ok(listed(details, page.limit, |d| {
            (d.post.created_at, d.post.id)
        }))
    }

    /// Edits an article: stored at once, and sent to every platform where it was
    /// published and whose provider can update posts (see the module docs). Refused
    /// while a publish or an earlier edit is still running somewhere.
    pub async fn edit_cross_post(
        &self,
        workspace_id: WorkspaceId,
        id: Uuid,
        edit: ArticleEdit,
    ) -> Result<CrossPostDetails> {
        let mut tx = self.begin(workspace_id).await?;
        let post = repo::cross_posts::get_for_update(tx.conn(), id).await?;
        let mut article: Article = serde_json::from_value(post.article.clone())
            .map_err(|e| Error::internal(anyhow::anyhow!("a stored article does not read: {e}")))?;
        let before = article.clone();
        apply(&mut article, edit);
        check_article(&article)?;
        let current = self.details_of(&mut tx, vec![post]).await?;
        let Some(current) = current.into_iter().next() else {
            return Err(Error::internal(anyhow::anyhow!(
                "a cross-post was not read back"
            )));
        };
        if article == before {
            // Nothing changed: no platform is asked to change anything.
            tx.commit().await?;
            return Ok(current);
        }
        if let Some(busy) = current
            .targets
            .iter()
            .find(|t| !finished(&t.publish) || t.update.as_ref().is_some_and(|run| !finished(run)))
        {
            return Err(Error {
                retry_after: Some(5),
                ..Error::new(
                    ErrorCode::Conflict,
                    format!(
                        "the article is still being published or edited on {}: edit it once \
                         that has finished",
                        busy.provider
                    ),
                )
            });
        }
        let mut planned = Vec::new();
        let mut errors = Vec::new();
        for (index, target) in current.targets.iter().enumerate() {
            let integration = crate::integration(&mut tx, target.target.integration_id).await?;
            let Some(post_id) = target.post_id() else {
                let code = target.publish.error_code.as_deref().unwrap_or("failed");
                planned.push((target, None, vec![format!(
                    "not published here (the publish failed: {code}), so there is nothing to edit"
                )]));
                continue;
            };
            let Some(action) = self.blog_action(&integration, UPDATE_ACTION)? else {
                planned.push((
                    target,
                    None,
                    vec![format!(
                        "{} does not allow edits through its API: the post keeps the version \
                     first published",
                        self.provider_name(&integration.provider)
                    )],
                ));
                continue;
            };
            crate::integrations::ensure_active(&integration)?;
            let options = target
                .target
                .options
                .as_object()
                .cloned()
                .unwrap_or_default();
            let (input, notes) = platform_input(&action, &article, &options, Some(&post_id));
            if let Err(fields) = action.validate_input(&input) {
                let prefix = format!("targets[{index}]");
                errors.extend(fields.into_iter().map(|field| under(&prefix, field)));
            }
            planned.push((target, Some((integration, input)), notes));
        }
        if !errors.is_empty() {
            return Err(Error::validation(errors));
        }
        for (target, update, notes) in planned {
            let run = match update {
                Some((integration, input)) => Some(
                    stage(
                        &mut tx,
                        workspace_id,
                        &integration,
                        UPDATE_ACTION,
                        &input,
                        Uuid::new_v4(),
                    )
                    .await?,
                ),
                None => None,
            };
            repo::cross_posts::set_edit(
                tx.conn(),
                id,
                target.target.integration_id,
                run.as_ref().map(|run| run.id),
                &notes,
            )
            .await?;
        }
        let article = serde_json::to_value(&article).map_err(Error::internal)?;
        let post = repo::cross_posts::set_article(tx.conn(), id, &article, self.now()).await?;
        let details = self.details_of(&mut tx, vec![post]).await?;
        tx.commit().await?;
        details.into_iter().next().ok_or_else(|| {
            Error::internal(anyhow::anyhow!(
                "a cross-post just edited was not read back"
            ))
        })
    }

    /// The blog action of an integration's provider, if it declares it.
    fn blog_action(&self, integration: &Integration, action: &str) -> Result<Option<ActionSpec>> {
        let adapter = self.adapter(&integration.provider)?;
        Ok(adapter.spec().action(action).cloned())
    }

    /// A provider's display name (its id when the registry lacks it).
    fn provider_name(&self, provider: &str) -> String {
        self.adapter(provider)
            .map(|adapter| adapter.spec().name.to_owned())
            .unwrap_or_else(|_| provider.to_owned())
    }

    /// Cross-posts with their platforms and runs, in the order given.
    async fn details_of(
        &self,
        tx: &mut WorkspaceTx,
        posts: Vec<CrossPost>,
    ) -> Result<Vec<CrossPostDetails>> {
        let ids: Vec<Uuid> = posts.iter().map(|post| post.id).collect();
        let targets = repo::cross_posts::targets_of(tx.conn(), &ids).await?;
        // Three queries whatever the page holds: the platforms, their runs, and the
        // workspace's providers.
        let run_ids: Vec<Uuid> = targets
            .iter()
            .flat_map(|t| std::iter::once(t.publish_run_id).chain(t.update_run_id))
            .collect();
        let runs: HashMap<Uuid, ActionRun> = repo::action_runs::get_many(tx.conn(), &run_ids)
            .await?
            .into_iter()
            .map(|run| (run.id, run))
            .collect();
        let providers: HashMap<Uuid, String> = repo::integrations::providers(tx.conn())
            .await?
            .into_iter()
            .collect();
        let run = |id: Uuid| {
            runs.get(&id).cloned().ok_or_else(|| {
                Error::internal(anyhow::anyhow!(
                    "the action run {id} of a cross-post is gone"
                ))
            })
        };
        let mut details: Vec<CrossPostDetails> = posts
            .into_iter()
            .map(|post| CrossPostDetails {
                post,
                targets: Vec::new(),
            })
            .collect();
        for target in targets {
            let publish = run(target.publish_run_id)?;
            let update = target.update_run_id.map(run).transpose()?;
            let provider = providers
                .get(&target.integration_id)
                .cloned()
                .unwrap_or_default();
            if let Some(post) = details
                .iter_mut()
                .find(|d| d.post.id == target.cross_post_id)
            {
                post.targets.push(TargetDetails {
                    target,
                    provider,
                    publish,
                    update,
                });
            }
        }
        Ok(details)
    }
}

/// The article's fields (options may not set them).
const ARTICLE_FIELDS: &[&str] = &[
    "title",
    "body_markdown",
    "canonical_url",
    "tags",
    "description",
    "cover_image",
    "series",
    "published",
    "id",
];

/// Records a queued run of a blog action for one platform. Its provider key is
/// derived from `key` (the cross-post for a publish, so every attempt and any
/// retry of the job present the same key; a fresh id for an edit).
async fn stage(
    tx: &mut WorkspaceTx,
    workspace_id: WorkspaceId,
    integration: &Integration,
    action: &str,
    input: &Value,
    key: Uuid,
) -> Result<ActionRun> {
    let run_id = Uuid::new_v4();
    let scoped = format!("cross-post:{key}");
    let provider_key =
        provider_idempotency_key(workspace_id, integration.id, action, Some(&scoped), run_id);
    queue_action(
        tx,
        NewActionRun {
            id: run_id,
            workspace_id,
            integration_id: integration.id,
            action,
            mode: junction_store::models::ActionMode::Queued,
            input,
            provider_idempotency_key: &provider_key,
            suppressed_recipients: &[],
        },
    )
    .await
}

/// One platform's input: the article's fields its action has an input for, its
/// tags cut to its limit, the options, and (for an edit) the post's id; with notes
/// of what was left out.
fn platform_input(
    action: &ActionSpec,
    article: &Article,
    options: &Map<String, Value>,
    post_id: Option<&str>,
) -> (Value, Vec<String>) {
    let schema = &action.input_schema;
    let properties = schema.get("properties").and_then(Value::as_object);
    let takes = |field: &str| properties.is_none_or(|p| p.contains_key(field));
    let mut notes = Vec::new();
    let mut input = Map::new();
    if let Some(id) = post_id {
        input.insert("id".into(), Value::from(id));
    }
    let mut put = |field: &str, value: Value| {
        if takes(field) {
            input.insert(field.to_owned(), value);
        } else {
            notes.push(format!(
                "`{field}` left out: the platform has no such field"
            ));
        }
    };
    put("title", Value::from(article.title.as_str()));
    put("body_markdown", Value::from(article.body_markdown.as_str()));
    put("canonical_url", Value::from(article.canonical_url.as_str()));
    put("published", Value::from(article.published));
    for (field, value) in [
        ("description", &article.description),
        ("cover_image", &article.cover_image),
        ("series", &article.series),
    ] {
        if let Some(value) = value {
            put(field, Value::from(value.as_str()));
        }
    }
    if !article.tags.is_empty() {
        let limit = properties
            .and_then(|p| p.get("tags"))
            .and_then(|tags| tags.get("maxItems"))
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok());
        let mut tags = article.tags.clone();
        let cut = match limit {
            Some(limit) if tags.len() > limit => Some((limit, tags.split_off(limit))),
            _ => None,
        };
        put("tags", Value::from(tags));
        if let Some((limit, left_out)) = cut {
            notes.push(format!(
                "tags beyond the platform's {limit} left out: {}",
                left_out.join(", ")
            ));
        }
    }
    for (key, value) in options {
        input.insert(key.clone(), value.clone());
    }
    (Value::Object(input), notes)
}

/// An edit applied to the article.
fn apply(article: &mut Article, edit: ArticleEdit) {
    let ArticleEdit {
        title,
        body_markdown,
        tags,
        description,
        cover_image,
        series,
        published,
    } = edit;
    if let Some(title) = title {
        article.title = title;
    }
    if let Some(body) = body_markdown {
        article.body_markdown = body;
    }
    if let Some(tags) = tags {
        article.tags = tags;
    }
    if description.is_some() {
        article.description = description;
    }
    if cover_image.is_some() {
        article.cover_image = cover_image;
    }
    if series.is_some() {
        article.series = series;
    }
    if let Some(published) = published {
        article.published = published;
    }
}

/// Whether a run has ended (succeeded or failed for good).
fn finished(run: &ActionRun) -> bool {
    matches!(run.status, ActionStatus::Succeeded | ActionStatus::Failed)
}

fn exists(id: Uuid) -> Error {
    Error::new(
        ErrorCode::CrossPostExists,
        format!(
            "an article with this canonical URL is already cross-posted ({id}): edit it with \
             PATCH /v1/cross-posts/{id}"
        ),
    )
}

/// A platform's field error, under the target it concerns.
fn under(prefix: &str, field: FieldError) -> FieldError {
    let name = if field.field == junction_core::spec::ROOT_FIELD {
        prefix.to_owned()
    } else {
        format!("{prefix}.{}", field.field)
    };
    FieldError {
        field: name,
        message: field.message,
    }
}

/// The article's own rules (each platform's come after).
fn check_article(article: &Article) -> Result<()> {
    let mut errors = Vec::new();
    let mut text = |field: &str, value: &str, max_chars: usize| {
        if value.trim().is_empty() {
            errors.push(FieldError::new(field, "must not be blank"));
        } else if value.chars().any(char::is_control) {
            errors.push(FieldError::new(
                field,
                "must be one line without control characters",
            ));
        } else if value.chars().count() > max_chars {
            errors.push(FieldError::new(
                field,
                format!("must be at most {max_chars} characters"),
            ));
        }
    };
    text("title", &article.title, MAX_TITLE_CHARS);
    if let Some(description) = &article.description {
        text("description", description, MAX_DESCRIPTION_CHARS);
    }
    if let Some(series) = &article.series {
        text("series", series, MAX_SERIES_CHARS);
    }
    if article.body_markdown.trim().is_empty() {
        errors.push(FieldError::new("body_markdown", "must not be blank"));
    } else if article.body_markdown.chars().count() > MAX_BODY_CHARS {
        errors.push(FieldError::new(
            "body_markdown",
            format!("must be at most {MAX_BODY_CHARS} characters"),
        ));
    }
    for (field, url) in [
        ("canonical_url", Some(&article.canonical_url)),
        ("cover_image", article.cover_image.as_ref()),
    ] {
        if let Some(url) = url
            && let Err(message) = check_url(url)
        {
            errors.push(FieldError::new(field, message));
        }
    }
    if article.tags.len() > MAX_TAGS {
        errors.push(FieldError::new(
            "tags",
            format!("must hold at most {MAX_TAGS} tags"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (index, tag) in article.tags.iter().enumerate() {
        let field = format!("tags[{index}]");
        if tag.trim().is_empty()
            || tag.chars().any(char::is_control)
            || tag.chars().count() > MAX_TAG_CHARS
        {
            errors.push(FieldError::new(
                &field,
                format!("must be 1 to {MAX_TAG_CHARS} characters on one line"),
            ));
        } else if !seen.insert(tag) {
            errors.push(FieldError::new(&field, "is given twice"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::validation(errors))
    }
}

/// A URL every platform takes: the rule of return URLs (`http(s)://`, a host, no
/// fragment or spaces), one rule for the API's schema and this check.
fn check_url(url: &str) -> std::result::Result<(), String> {
    match crate::connect_sessions::parse_web_url(url) {
        Some(_) => Ok(()),
        None => Err(crate::connect_sessions::WEB_URL_RULE.to_owned()),
    }
}

/// At least one platform, at most [`MAX_TARGETS`], none twice.
fn check_targets(targets: &[NewTarget]) -> Result<()> {
    if targets.is_empty() {
        return Err(Error::field(
            "targets",
            "must name at least one integration",
        ));
    }
    if targets.len() > MAX_TARGETS {
        return Err(Error::field(
            "targets",
            format!("must name at most {MAX_TARGETS} integrations"),
        ));
    }
    let mut seen = BTreeSet::new();
    let twice: Vec<FieldError> = targets
        .iter()
        .enumerate()
        .filter(|(_, target)| !seen.insert(target.integration_id))
        .map(|(index, _)| {
            FieldError::new(
                &format!("targets[{index}].integration_id"),
                "is listed twice",
            )
        })
        .collect();
    if twice.is_empty() {
        Ok(())
    } else {
        Err(Error::validation(twice))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn action(schema: Value) -> ActionSpec {
        ActionSpec {
            name: PUBLISH_ACTION,
            description: "",
            input_schema: schema,
            long_running: false,
            email_recipients: Vec::new(),
            provider_recipients: None,
        }
    }

    fn article() -> Article {
        Article {
            title: "Hello".into(),
            body_markdown: "# Hello".into(),
            canonical_url: "https://blog.example/hello".into(),
            tags: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            description: None,
            cover_image: None,
            series: Some("Greetings".into()),
            published: true,
        }
    }

    #[test]
    fn a_platform_gets_what_it_takes_and_the_notes_say_what_it_did_not() {
        let medium = action(json!({
            "type": "object",
            "properties": {
                "title": {}, "body_markdown": {}, "canonical_url": {}, "published": {},
                "tags": {"type": "array", "maxItems": 3}, "publication_id": {}
            }
        }));
        let mut options = Map::new();
        options.insert("publication_id".into(), json!("pub-1"));
        let (input, notes) = platform_input(&medium, &article(), &options, None);
        assert_eq!(
            input,
            json!({
                "title": "Hello", "body_markdown": "# Hello",
                "canonical_url": "https://blog.example/hello", "published": true,
                "tags": ["a", "b", "c"], "publication_id": "pub-1"
            })
        );
        assert_eq!(
            notes,
            vec![
                "`series` left out: the platform has no such field".to_owned(),
                "tags beyond the platform's 3 left out: d".to_owned()
            ]
        );
        let (edit, _) = platform_input(&medium, &article(), &Map::new(), Some("p-9"));
        assert_eq!(edit["id"], "p-9");
    }

    #[test]
    fn the_article_rules_name_every_field_at_fault() {
        let mut bad = article();
        bad.title = " ".into();
        bad.canonical_url = "ftp://blog.example/x".into();
        bad.tags = vec!["rust".into(), "rust".into(), String::new()];
        let error = check_article(&bad).unwrap_err();
        let fields: Vec<&str> = error.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["title", "canonical_url", "tags[1]", "tags[2]"]);
        assert!(check_article(&article()).is_ok());
    }

    #[test]
    fn targets_are_one_to_ten_distinct_integrations() {
        let id = Uuid::new_v4();
        let target = |integration_id| NewTarget {
            integration_id,
            options: Map::new(),
        };
        assert!(check_targets(&[]).is_err());
        let twice = check_targets(&[target(id), target(Uuid::new_v4()), target(id)]).unwrap_err();
        assert_eq!(twice.fields[0].field, "targets[2].integration_id");
        let many: Vec<NewTarget> = (0..11).map(|_| target(Uuid::new_v4())).collect();
        assert!(check_targets(&many).is_err());
    }
}
