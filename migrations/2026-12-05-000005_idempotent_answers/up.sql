-- An `Idempotency-Key` replay answers as the first request was answered: with its
-- content type and the very bytes of its body. The body was kept as jsonb, so an
-- answer that is not JSON (a provider's, through the proxy: text, an empty body)
-- came back as `null`, and a provider's JSON error came back as Junction's
-- `application/problem+json`. New answers keep both here; rows written before keep
-- `response_body` and replay as before until they expire (24 hours).
ALTER TABLE idempotency_keys
    ADD COLUMN response_content_type text,
    ADD COLUMN response_raw bytea;
