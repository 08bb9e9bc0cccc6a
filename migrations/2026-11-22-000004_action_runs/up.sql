-- One row per action requested through the API: what was asked, how it ran (at once
-- or on the action queue), and what came of it. The provider-facing idempotency key
-- is derived from the client's Idempotency-Key (or the run id), so every retry of the
-- same request reaches the provider under the same key.
CREATE TABLE action_runs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL,
    integration_id uuid NOT NULL,
    action text NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    mode text NOT NULL CHECK (mode IN ('inline', 'queued')),
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    input jsonb NOT NULL,
    output jsonb,
    external_id text,
    error_code text,
    error_message text,
    provider_idempotency_key text NOT NULL CHECK (length(provider_idempotency_key) BETWEEN 1 AND 255),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    FOREIGN KEY (workspace_id, integration_id) REFERENCES integrations (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX action_runs_integration_idx ON action_runs (workspace_id, integration_id, created_at DESC, id DESC);

ALTER TABLE action_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON action_runs
    USING (workspace_id = junction_current_workspace())
    WITH CHECK (workspace_id = junction_current_workspace());
GRANT SELECT, INSERT, UPDATE, DELETE ON action_runs TO junction_app;
