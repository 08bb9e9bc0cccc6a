-- The older schema has no setup step: an integration still waiting for its settings
-- is kept, as `pending` (never scheduled either).
UPDATE integrations SET status = 'pending' WHERE status = 'needs_setup';
ALTER TABLE integrations DROP CONSTRAINT integrations_status_check;
ALTER TABLE integrations ADD CONSTRAINT integrations_status_check
    CHECK (status IN ('pending', 'active', 'needs_reauth', 'error', 'disabled'));
