-- The job outbox: a job is written here in the same transaction as the row it
-- serves (a sync run, a webhook event, an action run, a notification), so the row
-- and its job commit together or not at all. The worker's relay moves committed
-- jobs to the apalis-redis queues, at least once: a job's id is derived from its row
-- and the queue's push writes an id only once, so a second relay of the same job
-- changes nothing.
CREATE TABLE outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    queue text NOT NULL CHECK (queue IN ('sync', 'action', 'webhook', 'notify')),
    job_id text NOT NULL CHECK (length(job_id) BETWEEN 1 AND 200),
    -- The job as it goes on the queue (junction-jobs' `Job`, tagged by kind).
    job jsonb NOT NULL CHECK (jsonb_typeof(job) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- A relay that took the row holds it until then; a relay that died lets it go.
    leased_until timestamptz,
    relay_attempts integer NOT NULL DEFAULT 0 CHECK (relay_attempts >= 0),
    last_error text
);
CREATE INDEX outbox_lease_idx ON outbox (leased_until, id);

ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON outbox
    USING (workspace_id = junction_current_workspace())
    WITH CHECK (workspace_id = junction_current_workspace());
-- Writers only insert, in their workspace's transaction; reading and removing jobs
-- is the relay's, through the functions below.
GRANT SELECT, INSERT ON outbox TO junction_app;

-- The relay's claim: up to p_limit jobs of every workspace, oldest first, not held by
-- another relay; each is held for p_lease (a relay that dies releases its jobs when
-- the lease runs out) and its attempt counted.
CREATE FUNCTION junction_outbox_claim(p_limit integer, p_lease interval)
    RETURNS TABLE (id bigint, workspace_id uuid, queue text, job_id text, job jsonb,
                   created_at timestamptz, relay_attempts integer)
    LANGUAGE sql SECURITY DEFINER SET search_path = public
    AS $$
        WITH due AS (
            SELECT o.id FROM outbox o
            WHERE o.leased_until IS NULL OR o.leased_until < now()
            ORDER BY o.id
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED
        )
        UPDATE outbox o
        SET leased_until = now() + p_lease, relay_attempts = o.relay_attempts + 1
        FROM due
        WHERE o.id = due.id
        RETURNING o.id, o.workspace_id, o.queue, o.job_id, o.job, o.created_at, o.relay_attempts;
    $$;

-- Jobs the relay put on their queues: gone from the outbox.
CREATE FUNCTION junction_outbox_relayed(p_ids bigint[])
    RETURNS integer
    LANGUAGE sql SECURITY DEFINER SET search_path = public
    AS $$
        WITH gone AS (DELETE FROM outbox WHERE id = ANY (p_ids) RETURNING 1)
        SELECT count(*)::integer FROM gone;
    $$;

-- Jobs the relay could not put on their queues (Redis down): held until p_retry_at,
-- with the reason, for the next relay to try again.
CREATE FUNCTION junction_outbox_failed(p_ids bigint[], p_error text, p_retry_at timestamptz)
    RETURNS integer
    LANGUAGE sql SECURITY DEFINER SET search_path = public
    AS $$
        WITH held AS (
            UPDATE outbox SET leased_until = p_retry_at, last_error = left(p_error, 1000)
            WHERE id = ANY (p_ids) RETURNING 1)
        SELECT count(*)::integer FROM held;
    $$;

-- How many jobs wait in the outbox and since when (for metrics and readiness).
CREATE FUNCTION junction_outbox_depth()
    RETURNS TABLE (pending bigint, oldest timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$ SELECT count(*), min(created_at) FROM outbox $$;

REVOKE ALL ON FUNCTION junction_outbox_claim(integer, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION junction_outbox_relayed(bigint[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION junction_outbox_failed(bigint[], text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION junction_outbox_depth() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION junction_outbox_claim(integer, interval) TO junction_app;
GRANT EXECUTE ON FUNCTION junction_outbox_relayed(bigint[]) TO junction_app;
GRANT EXECUTE ON FUNCTION junction_outbox_failed(bigint[], text, timestamptz) TO junction_app;
GRANT EXECUTE ON FUNCTION junction_outbox_depth() TO junction_app;

-- A replayed webhook event gets a job of its own (`webhook-{id}-replay-{n}`): the
-- first job of the event may still be remembered by the queue.
ALTER TABLE webhook_events ADD COLUMN replays integer NOT NULL DEFAULT 0 CHECK (replays >= 0);

-- Requests through the authenticated proxy are logged on their integration.
ALTER TABLE integration_logs DROP CONSTRAINT integration_logs_operation_check;
ALTER TABLE integration_logs ADD CONSTRAINT integration_logs_operation_check CHECK (operation IN
    ('connect', 'check', 'sync', 'refresh', 'action', 'webhook', 'revoke', 'update', 'reconnect',
     'alert', 'proxy'));

-- Rows that were waiting for a job when this version was installed get one staged
-- now: before the outbox, a job pushed after its row's commit could be lost (Redis
-- down at that moment), and the code that healed such rows is gone. A job still on
-- its queue is not run twice: the relay's push writes a job id only once.
INSERT INTO outbox (workspace_id, queue, job_id, job)
SELECT workspace_id, 'sync', 'sync-' || id::text,
       jsonb_build_object('kind', 'sync', 'workspace_id', workspace_id,
                          'integration_id', integration_id, 'run_id', id, 'stream', stream)
FROM sync_runs WHERE status = 'queued';

INSERT INTO outbox (workspace_id, queue, job_id, job)
SELECT workspace_id, 'webhook', 'webhook-' || id::text,
       jsonb_build_object('kind', 'webhook', 'workspace_id', workspace_id,
                          'integration_id', integration_id, 'event_row_id', id)
FROM webhook_events WHERE status = 'received';

INSERT INTO outbox (workspace_id, queue, job_id, job)
SELECT workspace_id, 'action', 'action-' || id::text,
       jsonb_build_object('kind', 'action', 'workspace_id', workspace_id,
                          'integration_id', integration_id, 'action', action, 'input', input,
                          'idempotency_key', provider_idempotency_key, 'request_id', id)
FROM action_runs WHERE status = 'queued' AND mode = 'queued';

INSERT INTO outbox (workspace_id, queue, job_id, job)
SELECT workspace_id, 'notify', 'notify-' || id::text,
       jsonb_build_object('kind', 'notify', 'workspace_id', workspace_id, 'notification_id', id)
FROM notifications WHERE status = 'pending';
