DROP FUNCTION junction_unannounced_reauth(integer);

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
        ) AS waiting (queue, row_id, workspace_id, since)
        WHERE since < now() - p_grace
          AND (p_after_at IS NULL OR (since, row_id) > (p_after_at, p_after_id))
        ORDER BY since, row_id
        LIMIT p_limit;
    $$;

-- Jobs and dead letters of the removed queue go with it.
SET LOCAL ROLE junction_system;
DELETE FROM outbox WHERE queue = 'outbound';
DELETE FROM dead_letters WHERE queue = 'outbound';
RESET ROLE;
ALTER TABLE outbox DROP CONSTRAINT outbox_queue_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_queue_check
    CHECK (queue IN ('sync', 'action', 'webhook', 'notify'));
ALTER TABLE dead_letters DROP CONSTRAINT dead_letters_queue_check;
ALTER TABLE dead_letters ADD CONSTRAINT dead_letters_queue_check
    CHECK (queue IN ('sync', 'action', 'webhook', 'notify'));

DROP TABLE outbound_attempts;
DROP TABLE outbound_deliveries;
DROP TABLE outbound_events;
DROP TABLE webhook_endpoint_secrets;
DROP TABLE webhook_endpoints;
