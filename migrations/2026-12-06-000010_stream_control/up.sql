-- Streams under control, and deletions.
--
-- 1. Each stream of an integration syncs on its own schedule: its own
--    `schedule_seconds` (NULL: the provider's default for the stream), `enabled`,
--    and when it last finished a sync and is due next. The integration's
--    `next_sync_at` is the earliest of its enabled streams' (kept by the
--    application), so the scheduler still claims integrations; a run it starts reads
--    the streams that are due.
-- 2. A run records the streams it reads (`sync_runs.streams`; NULL on runs queued
--    before this migration: every stream) and the records it marked deleted.
-- 3. A read of a stream is a pass (`pass_id`, from the first page after the cursor
--    was at its start to the page that says no more follow). A full-refresh stream
--    reads every record in each pass, so a record the pass did not see
--    (`records.seen_in_pass`) and that nothing touched since the pass began was
--    removed upstream: it is kept, with `deleted_at`. Webhook delete events mark
--    records the same way. Marking bumps `updated_at`, so `modified_after`
--    followers learn of it; a record read again is live again.
-- 4. The scheduler's claim compares `next_sync_at` with the application's clock
--    (`p_now`), the clock every schedule is computed with.

ALTER TABLE stream_states
    ADD COLUMN enabled boolean NOT NULL DEFAULT true,
    ADD COLUMN schedule_seconds integer CHECK (schedule_seconds BETWEEN 300 AND 2592000),
    -- NULL: due as soon as the integration is scheduled (never synced).
    ADD COLUMN next_sync_at timestamptz,
    ADD COLUMN last_synced_at timestamptz,
    -- The run that last read the stream to its end: a later attempt of that run
    -- does not read it again.
    ADD COLUMN last_run_id uuid,
    -- The pass in progress (NULL between passes) and when it began.
    ADD COLUMN pass_id uuid,
    ADD COLUMN pass_started_at timestamptz;

ALTER TABLE records
    ADD COLUMN deleted_at timestamptz,
    ADD COLUMN seen_in_pass uuid;

ALTER TABLE sync_runs
    ADD COLUMN streams text[],
    ADD COLUMN records_deleted bigint NOT NULL DEFAULT 0 CHECK (records_deleted >= 0);

DROP FUNCTION junction_claim_due_integrations(integer, interval);
CREATE FUNCTION junction_claim_due_integrations(p_limit integer, p_lease interval,
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
REVOKE ALL ON FUNCTION junction_claim_due_integrations(integer, interval, timestamptz) FROM PUBLIC;
ALTER FUNCTION junction_claim_due_integrations(integer, interval, timestamptz) OWNER TO junction_system;

-- Tenant rows, as the system role (row-level security filters the owner).
SET LOCAL ROLE junction_system;
UPDATE sync_runs SET streams = ARRAY[stream] WHERE stream IS NOT NULL;
-- A stream's first pass after this migration may have begun before it (a cursor
-- in the middle of a list): it marks nothing deleted, as if nothing were older.
UPDATE stream_states SET pass_id = gen_random_uuid(), pass_started_at = '-infinity';
-- Back to the owner, who records the migration.
RESET ROLE;
