-- The scheduler's and the outbox relay's claims are SQL functions, planned with
-- their parameters unknown (a generic plan): `LIMIT p_limit` is estimated at a
-- tenth of the rows the condition matches, so the planner joined the claimed rows
-- back to their table with a hash join over a sequential scan of the whole table —
-- every row, dead versions included — on every claim. With 100,000 integrations
-- due, each claim of 100 read the table (about 60 ms instead of 2) and the
-- scheduler's cost per integration grew with the backlog. The claimed ids are now
-- also handed over as an array (`= ANY (ARRAY(SELECT ...))`), which the planner
-- can only serve from the primary key: each claim touches the rows it claims.
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
        WHERE i.id = due.id AND i.id = ANY (ARRAY(SELECT due.id FROM due))
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
        WHERE o.id = ANY (ARRAY(SELECT due.id FROM due))
        RETURNING o.id, o.workspace_id, o.queue, o.job_id, o.job, o.created_at, o.relay_attempts;
    $$;
