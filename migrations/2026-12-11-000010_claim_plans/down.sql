CREATE OR REPLACE FUNCTION junction_claim_due_integrations(p_limit integer, p_lease interval,
                                                           p_now timestamptz)
    RETURNS TABLE (integration_id uuid, workspace_id uuid, provider text, due_at timestamptz)
    LANGUAGE sql SECURITY DEFINER SET search_path = public
    AS $$
        WITH due AS (
            SELECT i.id, i.next_sync_at
            FROM integrations i
            WHERE i.sync_enabled AND i.status = 'active' AND i.next_sync_at <= p_now
            ORDER BY i.next_sync_at
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED
        )
        UPDATE integrations i
        SET next_sync_at = p_now + p_lease, claimed_at = now()
        FROM due
        WHERE i.id = due.id
        RETURNING i.id, i.workspace_id, i.provider, due.next_sync_at;
    $$;

CREATE OR REPLACE FUNCTION junction_outbox_claim(p_limit integer, p_lease interval)
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
