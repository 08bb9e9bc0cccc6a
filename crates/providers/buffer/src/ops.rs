//! The GraphQL operations Junction sends to Buffer, as Buffer's docs write them
//! (shapes in provider-specs/buffer/NOTES.md). Each has an operation name, which the
//! sandbox fake dispatches on; every mutation selects `__typename` and the
//! `MutationError` interface, so its typed errors are told from its success.

use serde_json::{Value, json};

/// The account, its organizations: the check and the `organizations` stream.
pub const ACCOUNT: &str = "query Account {
  account { id email name timezone organizations { id name ownerEmail channelCount } }
}";

/// The channels of one organization (not paged).
pub const CHANNELS: &str = "query Channels($organizationId: OrganizationId!) {
  channels(input: { organizationId: $organizationId }) {
    id name displayName service serviceId avatar timezone isDisconnected isLocked
    isQueuePaused organizationId externalLink
    postingSchedule { day times paused }
    weeklyPostingLimit { sent scheduled limit }
  }
}";

/// One channel's organization (to look for an earlier try of a retried create).
pub const CHANNEL: &str = "query Channel($id: ChannelId!) {
  channel(input: { id: $id }) { id organizationId }
}";

/// One page of posts (`PostsInput`: organization, filter, sort).
pub const POSTS: &str = "query Posts($first: Int, $after: String, $input: PostsInput!) {
  posts(first: $first, after: $after, input: $input) {
    edges { node {
      id text status dueAt sentAt createdAt updatedAt channelId channelService
      schedulingType isCustomScheduled shareMode sharedNow externalLink
      error { message supportUrl }
    } }
    pageInfo { hasNextPage endCursor }
  }
}";

/// One page of an organization's ideas (to find the idea a retried create made).
pub const IDEAS: &str = "query Ideas($first: Int, $after: String, $input: IdeasInput!) {
  ideas(first: $first, after: $after, input: $input) {
    edges { node { id organizationId createdAt content { title text } } }
    pageInfo { hasNextPage endCursor }
  }
}";

/// Creates a post; the payload is the `PostActionPayload` union.
pub const CREATE_POST: &str = "mutation CreatePost($input: CreatePostInput!) {
  createPost(input: $input) {
    __typename
    ... on PostActionSuccess { post { id text status dueAt createdAt channelId externalLink } }
    ... on MutationError { message }
  }
}";

/// Deletes a post; the payload is `DeletePostSuccess` or an error member.
pub const DELETE_POST: &str = "mutation DeletePost($input: DeletePostInput!) {
  deletePost(input: $input) {
    __typename
    ... on DeletePostSuccess { id }
    ... on MutationError { message }
  }
}";

/// Creates an idea; the payload is the `Idea` or an error member.
pub const CREATE_IDEA: &str = "mutation CreateIdea($input: CreateIdeaInput!) {
  createIdea(input: $input) {
    __typename
    ... on Idea { id organizationId createdAt content { title text } }
    ... on MutationError { message }
  }
}";

/// The fields of one day's posting figures.
const LIMIT_FIELDS: &str = "channelId sent scheduled limit isAtLimit";

/// The posting figures of `channels` on `days` (ISO midnights) in one request: one
/// aliased `dailyPostingLimits` per day (`d0`, `d1`, ... from the variables `$d0`,
/// `$d1`, ...), so a week costs one request of the small hourly allowance.
pub fn daily_posting_limits(channels: &[String], days: &[String]) -> (String, Value) {
    let declared: Vec<String> = (0..days.len())
        .map(|i| format!("$d{i}: DateTime"))
        .collect();
    let fields: Vec<String> = (0..days.len())
        .map(|i| {
            format!(
                "  d{i}: dailyPostingLimits(input: {{ channelIds: $channelIds, date: $d{i} }}) \
                 {{ {LIMIT_FIELDS} }}"
            )
        })
        .collect();
    let document = format!(
        "query DailyPostingLimits($channelIds: [ChannelId!]!, {}) {{\n{}\n}}",
        declared.join(", "),
        fields.join("\n")
    );
    let mut variables = json!({ "channelIds": channels });
    for (i, day) in days.iter().enumerate() {
        variables[format!("d{i}")] = json!(day);
    }
    (document, variables)
}

/// The operation name of a document (`query Posts(...)` → `Posts`): what the fake
/// dispatches on.
pub fn operation_name(document: &str) -> Option<&str> {
    let rest = document
        .trim_start()
        .strip_prefix("query")
        .or_else(|| document.trim_start().strip_prefix("mutation"))?;
    let name = rest
        .trim_start()
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .next()?;
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_named() {
        for (document, name) in [
            (ACCOUNT, "Account"),
            (CHANNELS, "Channels"),
            (CHANNEL, "Channel"),
            (POSTS, "Posts"),
            (IDEAS, "Ideas"),
            (CREATE_POST, "CreatePost"),
            (DELETE_POST, "DeletePost"),
            (CREATE_IDEA, "CreateIdea"),
        ] {
            assert_eq!(operation_name(document), Some(name));
        }
        let (document, variables) = daily_posting_limits(
            &["ch_1".into()],
            &[
                "2026-04-01T00:00:00.000Z".into(),
                "2026-04-02T00:00:00.000Z".into(),
            ],
        );
        assert_eq!(operation_name(&document), Some("DailyPostingLimits"));
        assert!(
            document
                .contains("d1: dailyPostingLimits(input: { channelIds: $channelIds, date: $d1 })")
        );
        assert_eq!(variables["d1"], "2026-04-02T00:00:00.000Z");
        assert_eq!(variables["channelIds"], json!(["ch_1"]));
    }
}
