-- Reconciliation: rows whose job Redis forgot (a restart without persistence, lost
-- keys) get their job staged again by a periodic sweep, and scheduler claims whose
-- run was never started are released early.

-- Leases on installation-wide chores (the reconciliation sweep): any number of
-- workers try, one holds the lease at a time. Not tenant data: reachable only
-- through junction_take_lease.
CREATE TABLE worker_leases (
    name text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 100),
    holder text NOT NULL CHECK (length(holder) BETWEEN 1 AND 200),
    leased_until timestamptz NOT NULL
);
ALTER TABLE worker_leases ENABLE ROW LEVEL SECURITY;

-- Takes (or renews, for its holder) the lease p_name for p_for; false when another
-- holder's lease still runs.
CREATE FUNCTION junction_take_lease(p_name text, p_holder text, p_for interval)
    RETURNS boolean
    LANGUAGE sql SECURITY DEFINER SET search_path = public
    AS $$
        WITH taken AS (
            INSERT INTO worker_leases AS l (name, holder, leased_until)
            VALUES (p_name, p_holder, now() + p_for)
            ON CONFLICT (name) DO UPDATE
                SET holder = excluded.holder, leased_until = excluded.leased_until
                WHERE l.leased_until < now() OR l.holder = excluded.holder
            RETURNING 1)
        SELECT EXISTS (SELECT 1 FROM taken);
    $$;

-- When the scheduler claimed an integration whose run is not started yet; cleared
-- in the transaction that starts the run. A claim older than the sweep's grace
-- period belongs to a worker that died between the claim and the run.
ALTER TABLE integrations ADD COLUMN claimed_at timestamptz;

CREATE OR REPLACE FUNCTION junction_claim_due_integrations(p_limit integer, p_lease interval)
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
        SET next_sync_at = now() + p_lease, claimed_at = now()
        FROM due
        WHERE i.id = due.id
        RETURNING i.id, i.workspace_id, i.provider, due.next_sync_at;
    $$;

-- Claims older than p_grace whose run never started: due again now.
CREATE FUNCTION junction_release_stale_claims(p_grace interval)
    RETURNS integer
    LANGUAGE sql SECURITY DEFINER SET search_path = public
    AS $$
        WITH released AS (
            UPDATE integrations SET next_sync_at = now(), claimed_at = NULL
            WHERE claimed_at < now() - p_grace
            RETURNING 1)
        SELECT count(*)::integer FROM released;
    $$;

-- Rows of every workspace still waiting for their job (sync runs, webhook events,
-- queued action runs, notifications) whose last change is older than p_grace,
-- oldest first, after the keyset (p_after_at, p_after_id) when given. Only ids: the sweep
-- reads each row in its workspace's scope.
CREATE FUNCTION junction_unfinished_jobs(p_grace interval, p_after_at timestamptz,
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
        ) AS waiting (queue, row_id, workspace_id, since)
        WHERE since < now() - p_grace
          AND (p_after_at IS NULL OR (since, row_id) > (p_after_at, p_after_id))
        ORDER BY since, row_id
        LIMIT p_limit;
    $$;

CREATE INDEX sync_runs_unfinished_idx ON sync_runs (queued_at)
    WHERE status IN ('queued', 'running', 'retrying');
CREATE INDEX webhook_events_unfinished_idx ON webhook_events (received_at)
    WHERE status IN ('received', 'processing');
CREATE INDEX action_runs_unfinished_idx ON action_runs (created_at)
    WHERE mode = 'queued' AND status IN ('queued', 'running');
CREATE INDEX notifications_pending_idx ON notifications (created_at) WHERE status = 'pending';

REVOKE ALL ON FUNCTION junction_take_lease(text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION junction_release_stale_claims(interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION junction_unfinished_jobs(interval, timestamptz, uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION junction_take_lease(text, text, interval) TO junction_app;
GRANT EXECUTE ON FUNCTION junction_release_stale_claims(interval) TO junction_app;
GRANT EXECUTE ON FUNCTION junction_unfinished_jobs(interval, timestamptz, uuid, integer) TO junction_app;
