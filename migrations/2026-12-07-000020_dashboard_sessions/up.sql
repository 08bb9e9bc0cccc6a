-- The dashboard's sign-in state.
--
-- 1. dashboard_sessions: a browser signed in to one workspace. The session id only
--    travels in its cookie; the table keeps its SHA-256. A session ends at
--    `expires_at` (absolute, 7 days after sign-in), after `idle` without a request
--    (the application passes 12 hours), when the API key it was opened with is
--    revoked, or at sign-out (the row is deleted). `csrf_secret` keys the
--    synchronizer token every dashboard form carries.
-- 2. dashboard_sign_in_links: one-time sign-in links an operator prints with
--    `junction dashboard-link`: the token only travels in the link, the table keeps
--    its SHA-256; a link works once, within 15 minutes.
--
-- Both are looked up before a workspace is known (the cookie, the link), so each has
-- one narrow SECURITY DEFINER function, owned by junction_system like the others.

CREATE TABLE dashboard_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- SHA-256 of the session id; the id itself is never stored.
    session_hash bytea NOT NULL UNIQUE CHECK (length(session_hash) = 32),
    csrf_secret bytea NOT NULL CHECK (length(csrf_secret) = 32),
    -- The API key signed in with (NULL: an operator's sign-in link). Revoking the
    -- key ends its sessions; deleting the workspace deletes them.
    api_key_id uuid REFERENCES api_keys (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX dashboard_sessions_workspace_idx ON dashboard_sessions (workspace_id, expires_at);

CREATE TABLE dashboard_sign_in_links (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- SHA-256 of the link's token; the token itself is never stored.
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX dashboard_sign_in_links_workspace_idx ON dashboard_sign_in_links (workspace_id, expires_at);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['dashboard_sessions', 'dashboard_sign_in_links']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I '
            'USING (workspace_id = junction_current_workspace()) '
            'WITH CHECK (workspace_id = junction_current_workspace())', t);
        EXECUTE format('CREATE POLICY installation_access ON %I TO junction_system '
            'USING (true) WITH CHECK (true)', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO junction_app', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO junction_system', t);
    END LOOP;
END
$$;

-- Resolves a session cookie: the live session it names (touching its last request),
-- or no row when it is unknown, expired, idle longer than p_idle, or its API key is
-- revoked.
CREATE FUNCTION junction_dashboard_session(p_session_hash bytea, p_idle interval)
    RETURNS TABLE (session_id uuid, workspace_id uuid, csrf_secret bytea, expires_at timestamptz)
    LANGUAGE sql SECURITY DEFINER SET search_path = public
    AS $$
        UPDATE dashboard_sessions s SET last_seen_at = now()
        WHERE s.session_hash = p_session_hash
          AND s.expires_at > now()
          AND s.last_seen_at > now() - p_idle
          AND (s.api_key_id IS NULL OR EXISTS (
              SELECT 1 FROM api_keys k WHERE k.id = s.api_key_id AND k.revoked_at IS NULL))
        RETURNING s.id, s.workspace_id, s.csrf_secret, s.expires_at
    $$;

-- Uses a sign-in link: its workspace, once, before it expires (no row otherwise).
CREATE FUNCTION junction_dashboard_use_link(p_token_hash bytea)
    RETURNS uuid
    LANGUAGE sql SECURITY DEFINER SET search_path = public
    AS $$
        UPDATE dashboard_sign_in_links SET used_at = now()
        WHERE token_hash = p_token_hash AND used_at IS NULL AND expires_at > now()
        RETURNING workspace_id
    $$;

REVOKE ALL ON FUNCTION junction_dashboard_session(bytea, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION junction_dashboard_use_link(bytea) FROM PUBLIC;
ALTER FUNCTION junction_dashboard_session(bytea, interval) OWNER TO junction_system;
ALTER FUNCTION junction_dashboard_use_link(bytea) OWNER TO junction_system;
GRANT EXECUTE ON FUNCTION junction_dashboard_session(bytea, interval) TO junction_app;
GRANT EXECUTE ON FUNCTION junction_dashboard_use_link(bytea) TO junction_app;
