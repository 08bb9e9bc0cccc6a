-- Junction foundation schema.
--
-- Tenancy: every tenant-owned table carries workspace_id and a row-level-security
-- policy on the transaction-local setting app.workspace_id. The application works as
-- the role junction_app (no BYPASSRLS, not the table owner), so a query that forgets
-- its workspace filter still sees one tenant only. The few cross-tenant paths are the
-- SECURITY DEFINER functions at the end of this file.
--
-- Child tables reference (workspace_id, integration_id) together, so a row can never
-- point at another workspace's integration.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'junction_app') THEN
        CREATE ROLE junction_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
END
$$;

-- The workspace id of the current unit of work, or NULL outside one (which matches
-- no row: NULL = x is never true).
CREATE FUNCTION junction_current_workspace() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.workspace_id', true), '')::uuid $$;

CREATE TABLE workspaces (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    -- The first characters of the key, shown in lists so people can tell keys apart.
    display_prefix text NOT NULL,
    -- SHA-256 of the whole key; the key itself is never stored.
    key_hash bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id, created_at);

CREATE TABLE integrations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    provider text NOT NULL CHECK (provider ~ '^[a-z][a-z0-9]*(-[a-z0-9]+)*$'),
    display_name text NOT NULL CHECK (length(btrim(display_name)) BETWEEN 1 AND 200),
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'active', 'needs_reauth', 'error', 'disabled')),
    auth_kind text NOT NULL CHECK (auth_kind IN ('oauth2', 'api_key', 'basic', 'client_credentials')),
    -- Non-secret settings; secret fields live sealed in credentials.
    config jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(config) = 'object'),
    scopes text[] NOT NULL DEFAULT '{}',
    token_expires_at timestamptz,
    schedule_seconds integer NOT NULL DEFAULT 3600 CHECK (schedule_seconds >= 60),
    sync_enabled boolean NOT NULL DEFAULT true,
    next_sync_at timestamptz,
    last_sync_at timestamptz,
    health text NOT NULL DEFAULT 'unknown' CHECK (health IN ('unknown', 'healthy', 'unhealthy')),
    health_checked_at timestamptz,
    health_message text,
    last_error_code text,
    last_error_message text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id)
);
CREATE INDEX integrations_workspace_idx ON integrations (workspace_id, created_at, id);
CREATE INDEX integrations_due_idx ON integrations (next_sync_at)
    WHERE sync_enabled AND status = 'active';

-- Sealed credential fields, one row per field (access_token, refresh_token, api_key,
-- webhook_secret, ...). sealed = nonce (12 bytes) || AES-256-GCM ciphertext || tag;
-- the AAD binds workspace, integration and field, so rows cannot be swapped.
CREATE TABLE credentials (
    workspace_id uuid NOT NULL,
    integration_id uuid NOT NULL,
    field text NOT NULL CHECK (field ~ '^[a-z][a-z0-9_]*$'),
    key_id text NOT NULL CHECK (length(key_id) BETWEEN 1 AND 64),
    sealed bytea NOT NULL CHECK (length(sealed) >= 28),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, field),
    FOREIGN KEY (workspace_id, integration_id) REFERENCES integrations (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX credentials_key_idx ON credentials (key_id);

CREATE TABLE oauth_states (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    provider text NOT NULL,
    -- Set when the flow reconnects an existing integration.
    integration_id uuid,
    -- SHA-256 of the state parameter; the state itself only travels in the URL.
    state_hash bytea NOT NULL UNIQUE CHECK (length(state_hash) = 32),
    -- The PKCE verifier, sealed like a credential (AAD: workspace, state id, field).
    pkce_key_id text,
    pkce_verifier_sealed bytea,
    redirect_uri text NOT NULL,
    return_to text,
    -- Settings and display name the integration gets when the flow completes.
    config jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(config) = 'object'),
    display_name text,
    schedule_seconds integer CHECK (schedule_seconds >= 60),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    consumed_at timestamptz,
    CHECK ((pkce_key_id IS NULL) = (pkce_verifier_sealed IS NULL)),
    CHECK (expires_at > created_at),
    FOREIGN KEY (workspace_id, integration_id) REFERENCES integrations (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX oauth_states_expiry_idx ON oauth_states (expires_at);

CREATE TABLE sync_runs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL,
    integration_id uuid NOT NULL,
    -- NULL: every stream of the integration.
    stream text,
    trigger text NOT NULL CHECK (trigger IN ('schedule', 'manual', 'replay', 'webhook')),
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'retrying', 'succeeded', 'failed', 'dead', 'cancelled')),
    job_id text,
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    records_read bigint NOT NULL DEFAULT 0 CHECK (records_read >= 0),
    records_written bigint NOT NULL DEFAULT 0 CHECK (records_written >= 0),
    kpi_points_written bigint NOT NULL DEFAULT 0 CHECK (kpi_points_written >= 0),
    error_code text,
    error_message text,
    queued_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    UNIQUE (workspace_id, id),
    FOREIGN KEY (workspace_id, integration_id) REFERENCES integrations (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX sync_runs_integration_idx ON sync_runs (integration_id, queued_at DESC);

CREATE TABLE stream_states (
    workspace_id uuid NOT NULL,
    integration_id uuid NOT NULL,
    stream text NOT NULL CHECK (length(stream) BETWEEN 1 AND 200),
    cursor jsonb,
    pages_committed bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, stream),
    FOREIGN KEY (workspace_id, integration_id) REFERENCES integrations (workspace_id, id) ON DELETE CASCADE
);

CREATE TABLE records (
    workspace_id uuid NOT NULL,
    integration_id uuid NOT NULL,
    stream text NOT NULL,
    external_id text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 512),
    data jsonb NOT NULL,
    -- SHA-256 of the canonical JSON; an upsert with an equal hash changes nothing.
    content_hash bytea NOT NULL CHECK (length(content_hash) = 32),
    provider_modified_at timestamptz,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, stream, external_id),
    FOREIGN KEY (workspace_id, integration_id) REFERENCES integrations (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX records_modified_idx ON records (integration_id, stream, updated_at, external_id);

CREATE TABLE kpi_points (
    workspace_id uuid NOT NULL,
    integration_id uuid NOT NULL,
    metric text NOT NULL CHECK (length(metric) BETWEEN 1 AND 200),
    date date NOT NULL,
    -- Canonical text of the dimensions ('' for a total), the key of the upsert.
    dimension_key text NOT NULL,
    dimensions jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(dimensions) = 'object'),
    value double precision NOT NULL,
    stream text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, metric, date, dimension_key),
    FOREIGN KEY (workspace_id, integration_id) REFERENCES integrations (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX kpi_points_workspace_metric_idx ON kpi_points (workspace_id, metric, date);

CREATE TABLE webhook_events (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL,
    integration_id uuid NOT NULL,
    provider text NOT NULL,
    event_id text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 512),
    event_type text NOT NULL,
    headers jsonb NOT NULL CHECK (jsonb_typeof(headers) = 'object'),
    body bytea NOT NULL,
    status text NOT NULL DEFAULT 'received'
        CHECK (status IN ('received', 'processing', 'processed', 'failed', 'dead')),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    error_message text,
    received_at timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    -- The provider's event id makes a redelivery a no-op.
    UNIQUE (integration_id, event_id),
    FOREIGN KEY (workspace_id, integration_id) REFERENCES integrations (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_events_received_idx ON webhook_events (workspace_id, received_at DESC);

CREATE TABLE dead_letters (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    integration_id uuid,
    queue text NOT NULL CHECK (queue IN ('sync', 'action', 'webhook', 'notify')),
    job_id text NOT NULL,
    -- The job payload exactly as queued, so a replay runs the same work.
    job jsonb NOT NULL,
    error_code text NOT NULL,
    error_message text NOT NULL,
    attempts integer NOT NULL CHECK (attempts >= 1),
    -- One entry per attempt: {attempt, at, error_code, error_message}.
    attempt_log jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(attempt_log) = 'array'),
    first_failed_at timestamptz NOT NULL,
    dead_at timestamptz NOT NULL DEFAULT now(),
    replayed_at timestamptz,
    replay_job_id text,
    UNIQUE (queue, job_id),
    FOREIGN KEY (workspace_id, integration_id) REFERENCES integrations (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX dead_letters_workspace_idx ON dead_letters (workspace_id, dead_at DESC);

CREATE TABLE integration_logs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id uuid NOT NULL,
    integration_id uuid NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    level text NOT NULL CHECK (level IN ('info', 'warn', 'error')),
    operation text NOT NULL CHECK (operation IN
        ('connect', 'check', 'sync', 'refresh', 'action', 'webhook', 'revoke', 'update', 'reconnect', 'alert')),
    message text NOT NULL,
    details jsonb NOT NULL DEFAULT '{}'::jsonb,
    run_id uuid,
    FOREIGN KEY (workspace_id, integration_id) REFERENCES integrations (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX integration_logs_integration_idx ON integration_logs (integration_id, id DESC);

CREATE TABLE idempotency_keys (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    method text NOT NULL,
    path text NOT NULL,
    -- SHA-256 of method, path and body: the same key with another request is a 409.
    request_hash bytea NOT NULL CHECK (length(request_hash) = 32),
    -- NULL while the first request is still running.
    response_status smallint,
    response_body jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

CREATE TABLE alert_rules (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    integration_id uuid,
    name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    metric text NOT NULL,
    condition text NOT NULL CHECK (condition IN ('above', 'below', 'change_pct_above', 'change_pct_below')),
    threshold double precision NOT NULL,
    window_days integer NOT NULL DEFAULT 1 CHECK (window_days BETWEEN 1 AND 366),
    recipients text[] NOT NULL CHECK (cardinality(recipients) BETWEEN 1 AND 50),
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_triggered_at timestamptz,
    FOREIGN KEY (workspace_id, integration_id) REFERENCES integrations (workspace_id, id) ON DELETE CASCADE
);

CREATE TABLE notifications (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('kpi_alert', 'sync_failed', 'needs_reauth', 'dead_letter', 'weekly_report')),
    -- Each notification is sent once: the dedupe key names the event it reports.
    dedupe_key text NOT NULL,
    alert_rule_id uuid REFERENCES alert_rules (id) ON DELETE SET NULL,
    integration_id uuid,
    recipients text[] NOT NULL,
    subject text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'suppressed')),
    provider_message_id text,
    error_message text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    UNIQUE (workspace_id, dedupe_key),
    FOREIGN KEY (workspace_id, integration_id) REFERENCES integrations (workspace_id, id) ON DELETE CASCADE
);

-- Row-level security on every tenant table. workspaces itself is filtered on id.
ALTER TABLE workspaces ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON workspaces
    USING (id = junction_current_workspace())
    WITH CHECK (id = junction_current_workspace());

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['api_keys', 'integrations', 'credentials', 'oauth_states', 'sync_runs',
        'stream_states', 'records', 'kpi_points', 'webhook_events', 'dead_letters',
        'integration_logs', 'idempotency_keys', 'alert_rules', 'notifications']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I '
            'USING (workspace_id = junction_current_workspace()) '
            'WITH CHECK (workspace_id = junction_current_workspace())', t);
    END LOOP;
END
$$;

GRANT USAGE ON SCHEMA public TO junction_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON workspaces, api_keys, integrations, credentials,
    oauth_states, sync_runs, stream_states, records, kpi_points, webhook_events, dead_letters,
    integration_logs, idempotency_keys, alert_rules, notifications TO junction_app;
GRANT EXECUTE ON FUNCTION junction_current_workspace() TO junction_app;

-- Cross-tenant paths. Each is SECURITY DEFINER (runs as the schema owner, which RLS
-- does not restrict), does one narrow thing and returns only what that thing needs.

-- Resolves an API key hash to its workspace (authentication happens before a
-- workspace is known). Revoked keys are reported as such so the API can say so.
CREATE FUNCTION junction_authenticate_api_key(p_key_hash bytea)
    RETURNS TABLE (api_key_id uuid, workspace_id uuid, revoked boolean)
    LANGUAGE sql SECURITY DEFINER SET search_path = public
    AS $$
        UPDATE api_keys SET last_used_at = now()
        WHERE key_hash = p_key_hash
          AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
          AND revoked_at IS NULL;
        SELECT k.id, k.workspace_id, k.revoked_at IS NOT NULL
        FROM api_keys k WHERE k.key_hash = p_key_hash;
    $$;

-- The scheduler's claim: takes up to p_limit due integrations across all workspaces,
-- skipping rows another pod holds, and moves their next_sync_at past the lease so no
-- other pod claims them in this window.
CREATE FUNCTION junction_claim_due_integrations(p_limit integer, p_lease interval)
    RETURNS TABLE (integration_id uuid, workspace_id uuid, provider text, due_at timestamptz)
    LANGUAGE sql SECURITY DEFINER SET search_path = public
    AS $$
        WITH due AS (
            SELECT i.id, i.next_sync_at
            FROM integrations i
            WHERE i.sync_enabled AND i.status = 'active' AND i.next_sync_at <= now()
            ORDER BY i.next_sync_at
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED
        )
        UPDATE integrations i
        SET next_sync_at = now() + p_lease
        FROM due
        WHERE i.id = due.id
        RETURNING i.id, i.workspace_id, i.provider, due.next_sync_at;
    $$;

-- Finds the workspace of an integration for inbound webhooks, whose URL names the
-- integration but carries no API key.
CREATE FUNCTION junction_integration_workspace(p_integration_id uuid, p_provider text)
    RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$ SELECT workspace_id FROM integrations WHERE id = p_integration_id AND provider = p_provider $$;

-- Finds the workspace of an OAuth state at the callback, which arrives from the
-- provider's redirect without an API key. Consuming the state happens in scope.
CREATE FUNCTION junction_oauth_state_workspace(p_state_hash bytea)
    RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$ SELECT workspace_id FROM oauth_states WHERE state_hash = p_state_hash $$;

REVOKE ALL ON FUNCTION junction_authenticate_api_key(bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION junction_claim_due_integrations(integer, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION junction_integration_workspace(uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION junction_oauth_state_workspace(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION junction_authenticate_api_key(bytea) TO junction_app;
GRANT EXECUTE ON FUNCTION junction_claim_due_integrations(integer, interval) TO junction_app;
GRANT EXECUTE ON FUNCTION junction_integration_workspace(uuid, text) TO junction_app;
GRANT EXECUTE ON FUNCTION junction_oauth_state_workspace(bytea) TO junction_app;
