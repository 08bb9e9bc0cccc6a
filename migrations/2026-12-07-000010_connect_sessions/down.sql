DROP FUNCTION junction_connect_session_workspace(bytea);
ALTER TABLE oauth_states DROP COLUMN connect_session_id;
ALTER TABLE integrations
    DROP COLUMN connect_session_id,
    DROP COLUMN tags,
    DROP COLUMN end_user,
    DROP COLUMN end_user_id;
DROP TABLE connect_sessions;
ALTER TABLE workspaces DROP COLUMN connect_return_urls;
