-- Connect sessions: short-lived tokens a workspace's backend hands to its end users
-- so they can connect a provider themselves (Nango's connect sessions are the
-- model). A token can only connect: it never authenticates an API request.
--
-- 1. workspaces.connect_return_urls: the allow-list of URLs (or whole origins) a
--    session's return_url must match; empty means no session can be created.
-- 2. connect_sessions: the token is stored only as its SHA-256; the end user and the
--    tags travel to every integration the session connects.
-- 3. integrations carry the end user and tags of the session that connected them,
--    and the session: one integration per provider and session (the unique index).
-- 4. oauth_states remember the session of a flow started through one, so the
--    callback can check the session again and report to its return_url.
-- 5. junction_connect_session_workspace: the one cross-tenant lookup (a token →
--    its workspace), as the Connect page arrives without an API key.

ALTER TABLE workspaces
    ADD COLUMN connect_return_urls text[] NOT NULL DEFAULT '{}'
        CHECK (cardinality(connect_return_urls) <= 20);

CREATE TABLE connect_sessions (
    id uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- SHA-256 of the token; the token itself is never stored.
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    -- Empty: every provider of the installation.
    allowed_providers text[] NOT NULL DEFAULT '{}',
    end_user_id text NOT NULL CHECK (length(end_user_id) BETWEEN 1 AND 255),
    -- {"id": ..., "email": ..., "display_name": ...}
    end_user jsonb NOT NULL CHECK (jsonb_typeof(end_user) = 'object'),
    tags jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(tags) = 'object'),
    return_url text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    CHECK (expires_at > created_at),
    UNIQUE (workspace_id, id)
);
CREATE INDEX connect_sessions_workspace_idx ON connect_sessions (workspace_id, created_at, id);

ALTER TABLE connect_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE connect_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON connect_sessions
    USING (workspace_id = junction_current_workspace())
    WITH CHECK (workspace_id = junction_current_workspace());
CREATE POLICY installation_access ON connect_sessions TO junction_system
    USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON connect_sessions TO junction_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON connect_sessions TO junction_system;

ALTER TABLE integrations
    ADD COLUMN end_user_id text CHECK (length(end_user_id) BETWEEN 1 AND 255),
    ADD COLUMN end_user jsonb CHECK (jsonb_typeof(end_user) = 'object'),
    ADD COLUMN tags jsonb CHECK (jsonb_typeof(tags) = 'object'),
    -- No foreign key: sessions are revoked, never deleted, and an integration
    -- outlives its session (`ON DELETE SET NULL (column)` would need Postgres 15).
    ADD COLUMN connect_session_id uuid;
-- A session connects each provider once.
CREATE UNIQUE INDEX integrations_connect_session_provider_idx
    ON integrations (connect_session_id, provider) WHERE connect_session_id IS NOT NULL;
CREATE INDEX integrations_end_user_idx
    ON integrations (workspace_id, end_user_id) WHERE end_user_id IS NOT NULL;
CREATE INDEX integrations_tags_idx ON integrations USING gin (tags);

ALTER TABLE oauth_states
    ADD COLUMN connect_session_id uuid,
    ADD CONSTRAINT oauth_states_connect_session_fk
        FOREIGN KEY (workspace_id, connect_session_id)
        REFERENCES connect_sessions (workspace_id, id) ON DELETE CASCADE;

-- Finds the workspace of a connect-session token (the Connect page carries no API
-- key). Whether the session is live is checked in the workspace's scope.
CREATE FUNCTION junction_connect_session_workspace(p_token_hash bytea)
    RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$ SELECT workspace_id FROM connect_sessions WHERE token_hash = p_token_hash $$;
ALTER FUNCTION junction_connect_session_workspace(bytea) OWNER TO junction_system;
REVOKE ALL ON FUNCTION junction_connect_session_workspace(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION junction_connect_session_workspace(bytea) TO junction_app;
