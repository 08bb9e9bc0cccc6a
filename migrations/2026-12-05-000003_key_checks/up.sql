-- The key ring proves itself: one check value per key id of JUNCTION_KEYS, a fixed
-- public plaintext sealed with that key (AES-256-GCM, AAD
-- `junction/v1/key-check/{key_id}`), stored the first time a process runs with the
-- key. At start-up the API, the worker and `junction keys rotate` open the check of
-- every key of their ring that has one: a key that cannot is another key under the
-- same id, and the process refuses to start instead of failing on every credential
-- later. Only the AEAD ciphertext is stored, nothing else derived from a key.
--
-- Operator data, not a tenant's: no workspace_id and no row-level security. The
-- application role reads the checks and inserts the missing ones (`ON CONFLICT DO
-- NOTHING`, so two processes starting at once keep the first and both verify it);
-- it can neither change nor delete one, so a process with a wrong key cannot erase
-- the check that refuses it. Retiring a key id's check (to reuse the id for another
-- key once nothing is sealed with the old one) is the schema owner's DELETE.
CREATE TABLE key_checks (
    key_id text PRIMARY KEY CHECK (key_id ~ '^[A-Za-z0-9_-]{1,64}$'),
    -- Ciphertext and 16-byte tag.
    check_value bytea NOT NULL CHECK (length(check_value) >= 16),
    nonce bytea NOT NULL CHECK (length(nonce) = 12),
    created_at timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT ON key_checks TO junction_app;
