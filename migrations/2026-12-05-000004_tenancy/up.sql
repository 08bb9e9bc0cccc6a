-- Tenancy tightened.
--
-- 1. Row-level security is forced on every table that has it, so the schema owner
--    (the role DATABASE_URL logs in as) is filtered too: a code path that skipped
--    `SET ROLE junction_app` would see no tenant's rows rather than every tenant's.
-- 2. The cross-tenant paths run as a role of their own, junction_system (NOLOGIN,
--    NOBYPASSRLS): it owns the SECURITY DEFINER functions and is the one role with
--    a policy that lets it through (`installation_access`). The worker's system
--    connection (scheduler, outbox relay, reconciliation) and the operator commands
--    of the CLI switch to it; the API's connections never do.
-- 3. Who may call what: the API's role (junction_app) keeps only the lookups it
--    needs before it knows a workspace (an API key, an operator key, the integration
--    of a webhook URL, the state of an OAuth callback) and the outbox depth (a count);
--    claiming due integrations, the lost-grant sweep, the relay's functions and the
--    reconciliation's are junction_system's alone.
-- 4. Operator keys: installation-wide credentials, created with the CLI, that read
--    installation-wide figures (queue depths across every workspace).
--
-- Data migrations after this one run as the owner, whom row-level security now
-- filters: one that reads or writes tenant rows must `SET LOCAL ROLE junction_system`.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'junction_system') THEN
        CREATE ROLE junction_system NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
END
$$;
-- The owner switches to it (and hands it the functions below).
GRANT junction_system TO CURRENT_USER;
GRANT USAGE, CREATE ON SCHEMA public TO junction_system;

CREATE TABLE operator_keys (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    display_prefix text NOT NULL,
    -- SHA-256 of the whole key; the key itself is never stored.
    key_hash bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
ALTER TABLE operator_keys ENABLE ROW LEVEL SECURITY;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['workspaces', 'api_keys', 'integrations', 'credentials',
        'oauth_states', 'sync_runs', 'stream_states', 'records', 'kpi_points',
        'webhook_events', 'dead_letters', 'integration_logs', 'idempotency_keys',
        'alert_rules', 'notifications', 'email_suppressions', 'action_runs', 'outbox',
        'worker_leases', 'operator_keys']
    LOOP
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY installation_access ON %I TO junction_system '
            'USING (true) WITH CHECK (true)', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO junction_system', t);
    END LOOP;
END
$$;
GRANT SELECT, INSERT ON key_checks TO junction_system;
GRANT SELECT ON __diesel_schema_migrations TO junction_system;
GRANT EXECUTE ON FUNCTION junction_current_workspace() TO junction_system;

-- Resolves an operator key hash (installation-wide, no workspace).
CREATE FUNCTION junction_authenticate_operator_key(p_key_hash bytea)
    RETURNS TABLE (operator_key_id uuid, revoked boolean)
    LANGUAGE sql SECURITY DEFINER SET search_path = public
    AS $$
        UPDATE operator_keys SET last_used_at = now()
        WHERE key_hash = p_key_hash
        RETURNING id, revoked_at IS NOT NULL
    $$;
REVOKE ALL ON FUNCTION junction_authenticate_operator_key(bytea) FROM PUBLIC;

-- The API's lookups.
GRANT EXECUTE ON FUNCTION junction_authenticate_operator_key(bytea) TO junction_app;

-- The worker's and the operator's cross-tenant work: not the API's.
REVOKE EXECUTE ON FUNCTION junction_claim_due_integrations(integer, interval) FROM junction_app;
REVOKE EXECUTE ON FUNCTION junction_unnotified_reauth(integer) FROM junction_app;
REVOKE EXECUTE ON FUNCTION junction_outbox_claim(integer, interval) FROM junction_app;
REVOKE EXECUTE ON FUNCTION junction_outbox_relayed(bigint[]) FROM junction_app;
REVOKE EXECUTE ON FUNCTION junction_outbox_failed(bigint[], text, timestamptz) FROM junction_app;
REVOKE EXECUTE ON FUNCTION junction_take_lease(text, text, interval) FROM junction_app;
REVOKE EXECUTE ON FUNCTION junction_release_stale_claims(interval) FROM junction_app;
REVOKE EXECUTE ON FUNCTION junction_unfinished_jobs(interval, timestamptz, uuid, integer) FROM junction_app;

-- Every cross-tenant function runs as junction_system.
ALTER FUNCTION junction_authenticate_api_key(bytea) OWNER TO junction_system;
ALTER FUNCTION junction_authenticate_operator_key(bytea) OWNER TO junction_system;
ALTER FUNCTION junction_integration_workspace(uuid, text) OWNER TO junction_system;
ALTER FUNCTION junction_oauth_state_workspace(bytea) OWNER TO junction_system;
ALTER FUNCTION junction_claim_due_integrations(integer, interval) OWNER TO junction_system;
ALTER FUNCTION junction_unnotified_reauth(integer) OWNER TO junction_system;
ALTER FUNCTION junction_outbox_claim(integer, interval) OWNER TO junction_system;
ALTER FUNCTION junction_outbox_relayed(bigint[]) OWNER TO junction_system;
ALTER FUNCTION junction_outbox_failed(bigint[], text, timestamptz) OWNER TO junction_system;
ALTER FUNCTION junction_outbox_depth() OWNER TO junction_system;
ALTER FUNCTION junction_take_lease(text, text, interval) OWNER TO junction_system;
ALTER FUNCTION junction_release_stale_claims(interval) OWNER TO junction_system;
ALTER FUNCTION junction_unfinished_jobs(interval, timestamptz, uuid, integer) OWNER TO junction_system;
