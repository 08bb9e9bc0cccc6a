DROP FUNCTION IF EXISTS junction_unnotified_reauth(integer);
