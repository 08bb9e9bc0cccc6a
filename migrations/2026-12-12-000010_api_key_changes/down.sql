DROP TRIGGER api_keys_announce_change ON api_keys;
DROP FUNCTION junction_announce_api_key_change();
