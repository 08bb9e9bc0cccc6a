DROP FUNCTION junction_claim_due_integrations(integer, interval, timestamptz);
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
        SET next_sync_at = now() + p_lease, claimed_at = now()
        FROM due
        WHERE i.id = due.id
        RETURNING i.id, i.workspace_id, i.provider, due.next_sync_at;
    $$;
REVOKE ALL ON FUNCTION junction_claim_due_integrations(integer, interval) FROM PUBLIC;
ALTER FUNCTION junction_claim_due_integrations(integer, interval) OWNER TO junction_system;

ALTER TABLE sync_runs
    DROP COLUMN records_deleted,
    DROP COLUMN streams;

ALTER TABLE records
    DROP COLUMN seen_in_pass,
    DROP COLUMN deleted_at;

ALTER TABLE stream_states
    DROP COLUMN pass_started_at,
    DROP COLUMN pass_id,
    DROP COLUMN last_run_id,
    DROP COLUMN last_synced_at,
    DROP COLUMN next_sync_at,
    DROP COLUMN schedule_seconds,
    DROP COLUMN enabled;
