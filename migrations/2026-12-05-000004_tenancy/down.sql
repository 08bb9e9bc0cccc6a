DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['workspaces', 'api_keys', 'integrations', 'credentials',
        'oauth_states', 'sync_runs', 'stream_states', 'records', 'kpi_points',
        'webhook_events', 'dead_letters', 'integration_logs', 'idempotency_keys',
        'alert_rules', 'notifications', 'email_suppressions', 'action_runs', 'outbox',
        'worker_leases']
    LOOP
        EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('DROP POLICY installation_access ON %I', t);
        EXECUTE format('REVOKE ALL ON %I FROM junction_system', t);
    END LOOP;
END
$$;
REVOKE ALL ON key_checks FROM junction_system;
REVOKE ALL ON __diesel_schema_migrations FROM junction_system;
REVOKE ALL ON FUNCTION junction_current_workspace() FROM junction_system;

GRANT EXECUTE ON FUNCTION junction_claim_due_integrations(integer, interval) TO junction_app;
GRANT EXECUTE ON FUNCTION junction_unnotified_reauth(integer) TO junction_app;
GRANT EXECUTE ON FUNCTION junction_outbox_claim(integer, interval) TO junction_app;
GRANT EXECUTE ON FUNCTION junction_outbox_relayed(bigint[]) TO junction_app;
GRANT EXECUTE ON FUNCTION junction_outbox_failed(bigint[], text, timestamptz) TO junction_app;
GRANT EXECUTE ON FUNCTION junction_take_lease(text, text, interval) TO junction_app;
GRANT EXECUTE ON FUNCTION junction_release_stale_claims(interval) TO junction_app;
GRANT EXECUTE ON FUNCTION junction_unfinished_jobs(interval, timestamptz, uuid, integer) TO junction_app;

ALTER FUNCTION junction_authenticate_api_key(bytea) OWNER TO CURRENT_USER;
ALTER FUNCTION junction_integration_workspace(uuid, text) OWNER TO CURRENT_USER;
ALTER FUNCTION junction_oauth_state_workspace(bytea) OWNER TO CURRENT_USER;
ALTER FUNCTION junction_claim_due_integrations(integer, interval) OWNER TO CURRENT_USER;
ALTER FUNCTION junction_unnotified_reauth(integer) OWNER TO CURRENT_USER;
ALTER FUNCTION junction_outbox_claim(integer, interval) OWNER TO CURRENT_USER;
ALTER FUNCTION junction_outbox_relayed(bigint[]) OWNER TO CURRENT_USER;
ALTER FUNCTION junction_outbox_failed(bigint[], text, timestamptz) OWNER TO CURRENT_USER;
ALTER FUNCTION junction_outbox_depth() OWNER TO CURRENT_USER;
ALTER FUNCTION junction_take_lease(text, text, interval) OWNER TO CURRENT_USER;
ALTER FUNCTION junction_release_stale_claims(interval) OWNER TO CURRENT_USER;
ALTER FUNCTION junction_unfinished_jobs(interval, timestamptz, uuid, integer) OWNER TO CURRENT_USER;

DROP FUNCTION junction_authenticate_operator_key(bytea);
DROP TABLE operator_keys;
REVOKE ALL ON SCHEMA public FROM junction_system;
