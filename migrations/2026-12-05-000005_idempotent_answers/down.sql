ALTER TABLE idempotency_keys
    DROP COLUMN response_raw,
    DROP COLUMN response_content_type;
