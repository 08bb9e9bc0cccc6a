DROP FUNCTION IF EXISTS junction_dashboard_use_link(bytea);
DROP FUNCTION IF EXISTS junction_dashboard_session(bytea, interval);
DROP TABLE IF EXISTS dashboard_sign_in_links;
DROP TABLE IF EXISTS dashboard_sessions;
