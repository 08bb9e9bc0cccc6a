-- Announces every API key that stops working (revoked, deleted, or deleted with
-- its workspace) on the channel `junction_api_keys`, with the key's id as the
-- payload. Each API process keeps the keys it verified for a short while and
-- listens there, so a revocation made anywhere (the CLI, another replica, SQL)
-- reaches every cache when its transaction commits (Postgres sends a
-- notification only then, and not at all if it rolls back).
--
-- `last_used_at`, written at most once a minute by junction_authenticate_api_key,
-- is not among the columns that fire it.
CREATE FUNCTION junction_announce_api_key_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
    BEGIN
        PERFORM pg_notify('junction_api_keys', OLD.id::text);
        RETURN NULL;
    END;
    $$;

CREATE TRIGGER api_keys_announce_change
    AFTER UPDATE OF revoked_at, key_hash, workspace_id OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION junction_announce_api_key_change();
