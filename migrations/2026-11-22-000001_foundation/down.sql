-- Reverts the foundation schema. The junction_app role is cluster-wide and may serve
-- other databases, so it stays; only its privileges here go with the objects.
DROP FUNCTION IF EXISTS junction_oauth_state_workspace(bytea);
DROP FUNCTION IF EXISTS junction_integration_workspace(uuid, text);
DROP FUNCTION IF EXISTS junction_claim_due_integrations(integer, interval);
DROP FUNCTION IF EXISTS junction_authenticate_api_key(bytea);
DROP TABLE IF EXISTS notifications;
DROP TABLE IF EXISTS alert_rules;
DROP TABLE IF EXISTS idempotency_keys;
DROP TABLE IF EXISTS integration_logs;
DROP TABLE IF EXISTS dead_letters;
DROP TABLE IF EXISTS webhook_events;
DROP TABLE IF EXISTS kpi_points;
DROP TABLE IF EXISTS records;
DROP TABLE IF EXISTS stream_states;
DROP TABLE IF EXISTS sync_runs;
DROP TABLE IF EXISTS oauth_states;
DROP TABLE IF EXISTS credentials;
DROP TABLE IF EXISTS integrations;
DROP TABLE IF EXISTS api_keys;
DROP TABLE IF EXISTS workspaces;
DROP FUNCTION IF EXISTS junction_current_workspace();
REVOKE ALL ON SCHEMA public FROM junction_app;
