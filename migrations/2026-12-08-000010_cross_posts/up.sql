-- Cross-posting: one article published to several blog integrations (Dev.to,
-- Hashnode, Medium), each with the canonical URL pointing home.
--
-- 1. cross_posts: the article as last written; its canonical URL is its identity
--    within the workspace (a second article with the same URL is refused, so no
--    platform gets it twice, whatever the client's retries).
-- 2. cross_post_targets: one row per platform, pointing at the action runs that
--    publish and (later) update the post there; what the platform could not take
--    (tags beyond its limit, fields it lacks, an edit it does not allow) is in notes.

CREATE TABLE cross_posts (
    id uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    canonical_url text NOT NULL CHECK (length(canonical_url) BETWEEN 1 AND 2048),
    article jsonb NOT NULL CHECK (jsonb_typeof(article) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, canonical_url),
    UNIQUE (workspace_id, id)
);
CREATE INDEX cross_posts_workspace_idx ON cross_posts (workspace_id, created_at DESC, id DESC);

CREATE TABLE cross_post_targets (
    cross_post_id uuid NOT NULL,
    workspace_id uuid NOT NULL,
    integration_id uuid NOT NULL,
    -- Where the client listed it (answers list the platforms in that order).
    position smallint NOT NULL CHECK (position >= 0),
    -- Platform-specific input the client gave (a Hashnode publication id).
    options jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object'),
    -- An integration deleted later takes its runs with it, and this row too.
    publish_run_id uuid NOT NULL REFERENCES action_runs (id) ON DELETE CASCADE,
    update_run_id uuid REFERENCES action_runs (id) ON DELETE SET NULL,
    notes text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (cross_post_id, integration_id),
    FOREIGN KEY (workspace_id, cross_post_id)
        REFERENCES cross_posts (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, integration_id)
        REFERENCES integrations (workspace_id, id) ON DELETE CASCADE
);

ALTER TABLE cross_posts ENABLE ROW LEVEL SECURITY;
ALTER TABLE cross_posts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON cross_posts
    USING (workspace_id = junction_current_workspace())
    WITH CHECK (workspace_id = junction_current_workspace());
CREATE POLICY installation_access ON cross_posts TO junction_system
    USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON cross_posts TO junction_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON cross_posts TO junction_system;

ALTER TABLE cross_post_targets ENABLE ROW LEVEL SECURITY;
ALTER TABLE cross_post_targets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON cross_post_targets
    USING (workspace_id = junction_current_workspace())
    WITH CHECK (workspace_id = junction_current_workspace());
CREATE POLICY installation_access ON cross_post_targets TO junction_system
    USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON cross_post_targets TO junction_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON cross_post_targets TO junction_system;
