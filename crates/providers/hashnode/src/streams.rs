//! The streams: `publications` (the user's, `me.publications`) and `posts` (each
//! publication's, `publication(id).posts`), both GraphQL connections read with
//! `first`/`after` to the end.
//!
//! `posts` walks the publications one after the other: a pass starts by listing
//! them (or takes the connection's `publication_id` alone), keeps their ids in the
//! stored [`PostsCursor`], and reads each one's posts to the end before the next.
//! Each post is a record (as Hashnode sent it, with its `publication_id`) and three
//! gauges on the sync's day, broken down by post: views, reactions, responses.

use junction_core::{AdapterError, Connection, KpiPoint, Page, ReadRequest, Record};
use junction_toolkit::{Client, PageToken, cursor, data};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    api::{self, POSTS_PAGING, PUBLICATIONS_PAGING},
    operations::{MY_PUBLICATIONS, PUBLICATION_POSTS},
    spec::{POSTS, PUBLICATION, PUBLICATIONS, REACTIONS, RESPONSES, VIEWS},
};

/// Most pages of publications a pass of `posts` lists (20 each).
const MAX_PUBLICATION_PAGES: usize = 50;

/// The stored cursor of `publications`: the next page's cursor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct PublicationsCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
}

/// The stored cursor of `posts`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PostsCursor {
    /// The publications of the pass under way; empty between passes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    publications: Vec<String>,
    /// The publication being read.
    #[serde(default)]
    at: usize,
    /// Its next page's cursor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
}

/// Reads one page of `publications`.
pub(crate) async fn publications(
    client: &Client<'_>,
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    let stored = cursor::read::<PublicationsCursor>(request.cursor.as_ref(), PUBLICATIONS)?
        .unwrap_or_default();
    let token = PageToken::from_cursor(stored.after);
    let size = PUBLICATIONS_PAGING.size.pick(request.page_size);
    let (_, edges, next) = api::page(
        client,
        &MY_PUBLICATIONS,
        &PUBLICATIONS_PAGING,
        json!({}),
        &token,
        size,
    )
    .await?;
    let records = edges
        .iter()
        .map(|edge| node_record(edge, "Hashnode sent a publication", None))
        .collect::<Result<Vec<_>, _>>()?;
    let after = next.and_then(PageToken::into_cursor);
    let has_more = after.is_some();
    cursor::page(records, Vec::new(), &PublicationsCursor { after }, has_more)
}

/// Every publication id of the user, listed page by page (bounded).
pub(crate) async fn publication_ids(client: &Client<'_>) -> Result<Vec<String>, AdapterError> {
    let mut ids = Vec::new();
    let mut token = PageToken::First;
    for _ in 0..MAX_PUBLICATION_PAGES {
        let size = PUBLICATIONS_PAGING.size.max;
        let (_, edges, next) = api::page(
            client,
            &MY_PUBLICATIONS,
            &PUBLICATIONS_PAGING,
            json!({}),
            &token,
            size,
        )
        .await?;
        for edge in &edges {
            let fields = data::Fields::new(edge, "Hashnode sent a publication");
            let node = fields
                .get("node")
                .ok_or_else(|| fields.malformed("node", "is missing"))?;
            ids.push(data::Fields::new(node, "Hashnode sent a publication").text("id")?);
        }
        match next {
            Some(next) => token = next,
            None => break,
        }
    }
    Ok(ids)
}

/// Reads one page of `posts`.
pub(crate) async fn posts(
    client: &Client<'_>,
    conn: &Connection,
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    let mut cursor =
        cursor::read::<PostsCursor>(request.cursor.as_ref(), POSTS)?.unwrap_or_default();
    if cursor.publications.is_empty() {
        cursor = PostsCursor {
            publications: match PUBLICATION.read(conn)? {
                Some(id) => vec![id],
                None => publication_ids(client).await?,
            },
            at: 0,
            after: None,
        };
    }
    let Some(publication) = cursor.publications.get(cursor.at).cloned() else {
        // A user without publications has no posts.
        return cursor::page(Vec::new(), Vec::new(), &PostsCursor::default(), false);
    };
    let token = PageToken::from_cursor(cursor.after.take());
    let size = POSTS_PAGING.size.pick(request.page_size);
    let variables = json!({ "publicationId": publication });
    let (body, edges, next) = api::page(
        client,
        &PUBLICATION_POSTS,
        &POSTS_PAGING,
        variables,
        &token,
        size,
    )
    .await?;
    if body.pointer("/data/publication").is_none_or(Value::is_null) {
        return Err(AdapterError::invalid_field(
            PUBLICATION.name,
            "Hashnode has no publication of that id (was it deleted?)",
        ));
    }
    let day = client.context().now().date_naive();
    let (records, kpis) = data::records_and_points(&edges, |edge| {
        let record = node_record(edge, "Hashnode sent a post", Some(&publication))?;
        let post = data::Fields::new(&record.data, "Hashnode sent a post");
        let mut points = Vec::new();
        for (metric, field) in [
            (VIEWS, "views"),
            (REACTIONS, "reactionCount"),
            (RESPONSES, "responseCount"),
        ] {
            if let Some(value) = post.number(field)? {
                points.push(
                    KpiPoint::total(metric, day, value).with_dimension("post", &record.external_id),
                );
            }
        }
        Ok((record, points))
    })?;
    let has_more = match next.and_then(PageToken::into_cursor) {
        Some(after) => {
            cursor.after = Some(after);
            true
        }
        None if cursor.at + 1 < cursor.publications.len() => {
            cursor.at += 1;
            true
        }
        None => {
            cursor = PostsCursor::default();
            false
        }
    };
    cursor::page(records, kpis, &cursor, has_more)
}

/// An edge's node as a record (with the publication it belongs to, for posts).
fn node_record(
    edge: &Value,
    what: &str,
    publication: Option<&str>,
) -> Result<Record, AdapterError> {
    let fields = data::Fields::new(edge, what);
    let mut node = fields
        .get("node")
        .cloned()
        .ok_or_else(|| fields.malformed("node", "is missing"))?;
    let id = data::Fields::new(&node, what).text("id")?;
    if let Some(publication) = publication {
        node["publication_id"] = json!(publication);
    }
    Ok(Record {
        external_id: id,
        data: node,
        modified_at: None,
    })
}
