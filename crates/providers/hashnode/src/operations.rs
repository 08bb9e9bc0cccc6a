//! The GraphQL operations Junction sends to Hashnode, by name (the fake answers by
//! `operationName`), with the field names of Hashnode's schema.

/// A named GraphQL operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    pub name: &'static str,
    pub query: &'static str,
}

/// The user the token belongs to: `check`'s label.
pub const ME: Operation = Operation {
    name: "Me",
    query: "query Me { me { id username name } }",
};

/// The user's publications, a page at a time.
pub const MY_PUBLICATIONS: Operation = Operation {
    name: "MyPublications",
    query: "query MyPublications($first: Int!, $after: String) { me { publications(first: $first, after: $after) { edges { cursor node { id title displayTitle url isTeam followersCount } } pageInfo { hasNextPage endCursor } } } }",
};

/// A publication's posts, a page at a time, with their counts.
pub const PUBLICATION_POSTS: Operation = Operation {
    name: "PublicationPosts",
    query: "query PublicationPosts($publicationId: ObjectId!, $first: Int!, $after: String) { publication(id: $publicationId) { id posts(first: $first, after: $after) { edges { cursor node { id slug title brief url canonicalUrl publishedAt updatedAt readTimeInMinutes views reactionCount responseCount replyCount tags { slug name } } } pageInfo { hasNextPage endCursor } } } }",
};

/// A post of a publication by slug: an earlier try of a publish.
pub const POST_BY_SLUG: Operation = Operation {
    name: "PostBySlug",
    query: "query PostBySlug($publicationId: ObjectId!, $slug: String!) { publication(id: $publicationId) { id post(slug: $slug) { id slug url } } }",
};

/// The user's drafts in a publication, a page at a time: an earlier try of a draft.
pub const PUBLICATION_DRAFTS: Operation = Operation {
    name: "PublicationDrafts",
    query: "query PublicationDrafts($publicationId: ObjectId!, $first: Int!, $after: String) { publication(id: $publicationId) { id drafts(first: $first, after: $after) { edges { cursor node { id slug title } } pageInfo { hasNextPage endCursor } } } }",
};

pub const PUBLISH_POST: Operation = Operation {
    name: "PublishPost",
    query: "mutation PublishPost($input: PublishPostInput!) { publishPost(input: $input) { post { id slug url } } }",
};

pub const UPDATE_POST: Operation = Operation {
    name: "UpdatePost",
    query: "mutation UpdatePost($input: UpdatePostInput!) { updatePost(input: $input) { post { id slug url } } }",
};

pub const CREATE_DRAFT: Operation = Operation {
    name: "CreateDraft",
    query: "mutation CreateDraft($input: CreateDraftInput!) { createDraft(input: $input) { draft { id slug } } }",
};
