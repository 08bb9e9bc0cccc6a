DROP FUNCTION junction_unfinished_jobs(interval, timestamptz, uuid, integer);
DROP FUNCTION junction_release_stale_claims(interval);
DROP INDEX notifications_pending_idx;
DROP INDEX action_runs_unfinished_idx;
DROP INDEX webhook_events_unfinished_idx;
DROP INDEX sync_runs_unfinished_idx;
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
        SET next_sync_at = now() + p_lease
        FROM due
        WHERE i.id = due.id
        RETURNING i.id, i.workspace_id, i.provider, due.next_sync_at;
    $$;
ALTER TABLE integrations DROP COLUMN claimed_at;
DROP FUNCTION junction_take_lease(text, text, interval);
DROP TABLE worker_leases;
