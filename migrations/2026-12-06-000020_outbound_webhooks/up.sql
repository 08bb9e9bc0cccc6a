-- Outbound webhooks: the client app's endpoints (per workspace, with event-type
-- filters and sealed signing secrets), the events Junction sends them, one delivery
-- per event and endpoint (the job of the `outbound` queue), and every attempt of a
-- delivery with its status code and latency.
--
-- An event is written in the transaction of the fact it reports (a sync run's end,
-- a new connection, a stored provider webhook...), with one delivery per enabled
-- endpoint that subscribes to its type and each delivery's job staged in the outbox
-- beside it. Events nobody subscribes to are not stored.

CREATE TABLE webhook_endpoints (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    url text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
    -- The event types the endpoint receives; empty: every type.
    event_types text[] NOT NULL DEFAULT '{}',
    enabled boolean NOT NULL DEFAULT true,
    -- Why Junction disabled the endpoint (it answered 410 Gone); NULL otherwise.
    disabled_reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id)
);
CREATE INDEX webhook_endpoints_workspace_idx ON webhook_endpoints (workspace_id, created_at, id);

-- Signing secrets, sealed like credentials (nonce || AES-256-GCM ciphertext || tag;
-- AAD: workspace, secret id, `signing_secret`). The current secret has no expiry; a
-- rotation gives the one it replaces an expiry 24 hours on, until which both sign.
CREATE TABLE webhook_endpoint_secrets (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL,
    endpoint_id uuid NOT NULL,
    key_id text NOT NULL CHECK (length(key_id) BETWEEN 1 AND 64),
    sealed bytea NOT NULL CHECK (length(sealed) >= 28),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    FOREIGN KEY (workspace_id, endpoint_id) REFERENCES webhook_endpoints (workspace_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX webhook_endpoint_secrets_current_idx ON webhook_endpoint_secrets (endpoint_id)
    WHERE expires_at IS NULL;
CREATE INDEX webhook_endpoint_secrets_key_idx ON webhook_endpoint_secrets (key_id);

CREATE TABLE outbound_events (
    -- Also the `webhook-id` of every delivery of the event.
    id uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    event_type text NOT NULL CHECK (event_type IN ('connection.created',
        'connection.needs_reauth', 'connection.deleted', 'sync.succeeded', 'sync.failed',
        'records.changed', 'action.finished', 'provider_event.received')),
    -- The integration the event is about. No foreign key: `connection.deleted`
    -- outlives its integration.
    integration_id uuid,
    -- The fact it reports (a run's end, a connection...): one event per fact.
    dedupe_key text NOT NULL CHECK (length(dedupe_key) BETWEEN 1 AND 400),
    -- The body every delivery sends: {id, type, timestamp, workspace_id, data}.
    payload jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    created_at timestamptz NOT NULL,
    UNIQUE (workspace_id, dedupe_key),
    UNIQUE (workspace_id, id)
);
CREATE INDEX outbound_events_created_idx ON outbound_events (workspace_id, created_at DESC, id DESC);

CREATE TABLE outbound_deliveries (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL,
    event_id uuid NOT NULL,
    endpoint_id uuid NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- The job that runs it (a dead letter's replay runs under a job id of its own).
    job_id text,
    next_attempt_at timestamptz,
    last_status_code integer,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    succeeded_at timestamptz,
    UNIQUE (event_id, endpoint_id),
    UNIQUE (workspace_id, id),
    FOREIGN KEY (workspace_id, event_id) REFERENCES outbound_events (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, endpoint_id) REFERENCES webhook_endpoints (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX outbound_deliveries_endpoint_idx ON outbound_deliveries (endpoint_id, created_at DESC);
CREATE INDEX outbound_deliveries_pending_idx ON outbound_deliveries (updated_at) WHERE status = 'pending';

CREATE TABLE outbound_attempts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL,
    delivery_id uuid NOT NULL,
    event_id uuid NOT NULL,
    endpoint_id uuid NOT NULL,
    attempt integer NOT NULL CHECK (attempt >= 1),
    url text NOT NULL,
    -- NULL when no answer came (timeout, refused connection).
    status_code integer CHECK (status_code BETWEEN 100 AND 599),
    latency_ms integer NOT NULL CHECK (latency_ms >= 0),
    -- The start of the answer's body (at most 1 KiB of text).
    response_excerpt text,
    succeeded boolean NOT NULL,
    -- A stable error code and what went wrong, when it failed.
    error_code text,
    error_message text,
    attempted_at timestamptz NOT NULL,
    -- When the next attempt is due, once the retry is scheduled.
    next_attempt_at timestamptz,
    UNIQUE (delivery_id, attempt),
    FOREIGN KEY (workspace_id, delivery_id) REFERENCES outbound_deliveries (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX outbound_attempts_endpoint_idx ON outbound_attempts (endpoint_id, attempted_at DESC, id DESC);
CREATE INDEX outbound_attempts_event_idx ON outbound_attempts (event_id, attempted_at DESC, id DESC);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['webhook_endpoints', 'webhook_endpoint_secrets',
        'outbound_events', 'outbound_deliveries', 'outbound_attempts']
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

-- The new queue: staged jobs and dead letters of deliveries.
ALTER TABLE outbox DROP CONSTRAINT outbox_queue_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_queue_check
    CHECK (queue IN ('sync', 'action', 'webhook', 'notify', 'outbound'));
ALTER TABLE dead_letters DROP CONSTRAINT dead_letters_queue_check;
ALTER TABLE dead_letters ADD CONSTRAINT dead_letters_queue_check
    CHECK (queue IN ('sync', 'action', 'webhook', 'notify', 'outbound'));

-- The reconciliation sweep also gives pending deliveries whose job Redis forgot
-- their job back (same signature, owner and grants as before).
CREATE OR REPLACE FUNCTION junction_unfinished_jobs(p_grace interval, p_after_at timestamptz,
                                                    p_after_id uuid, p_limit integer)
    RETURNS TABLE (queue text, row_id uuid, workspace_id uuid, since timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$
        SELECT * FROM (
            SELECT 'sync'::text, r.id, r.workspace_id, greatest(r.queued_at, r.started_at)
            FROM sync_runs r WHERE r.status IN ('queued', 'running', 'retrying')
            UNION ALL
            SELECT 'webhook', e.id, e.workspace_id, e.received_at
            FROM webhook_events e WHERE e.status IN ('received', 'processing')
            UNION ALL
            SELECT 'action', a.id, a.workspace_id, greatest(a.created_at, a.started_at)
            FROM action_runs a WHERE a.mode = 'queued' AND a.status IN ('queued', 'running')
            UNION ALL
            SELECT 'notify', n.id, n.workspace_id, n.created_at
            FROM notifications n WHERE n.status = 'pending'
            UNION ALL
            SELECT 'outbound', d.id, d.workspace_id, d.updated_at
            FROM outbound_deliveries d WHERE d.status = 'pending'
        ) AS waiting (queue, row_id, workspace_id, since)
        WHERE since < now() - p_grace
          AND (p_after_at IS NULL OR (since, row_id) > (p_after_at, p_after_id))
        ORDER BY since, row_id
        LIMIT p_limit;
    $$;

-- Integrations whose grant is lost (`needs_reauth`) and whose workspace has an
-- enabled endpoint for `connection.needs_reauth` but no such event since the
-- integration's last successful connect or reconnect: the scheduler announces them
-- (a refresh refused during an API call or an action moves an integration there
-- outside any sync). Cross-tenant like the lost-grant notices; ids only.
CREATE FUNCTION junction_unannounced_reauth(p_limit integer)
    RETURNS TABLE (integration_id uuid, workspace_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$
        SELECT i.id, i.workspace_id
        FROM integrations i
        WHERE i.status = 'needs_reauth'
          AND EXISTS (
              SELECT 1 FROM webhook_endpoints w
              WHERE w.workspace_id = i.workspace_id AND w.enabled
                AND (cardinality(w.event_types) = 0
                     OR 'connection.needs_reauth' = ANY (w.event_types)))
          AND NOT EXISTS (
              SELECT 1 FROM outbound_events e
              WHERE e.workspace_id = i.workspace_id
                AND e.integration_id = i.id
                AND e.event_type = 'connection.needs_reauth'
                AND e.created_at >= coalesce((
                    SELECT max(l.at) FROM integration_logs l
                    WHERE l.integration_id = i.id AND l.level = 'info'
                      AND l.operation IN ('connect', 'reconnect')), '-infinity'))
        ORDER BY i.updated_at
        LIMIT p_limit
    $$;
ALTER FUNCTION junction_unannounced_reauth(integer) OWNER TO junction_system;
REVOKE ALL ON FUNCTION junction_unannounced_reauth(integer) FROM PUBLIC;
