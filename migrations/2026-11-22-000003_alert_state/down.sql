DROP INDEX IF EXISTS alert_rules_integration_idx;
DROP INDEX IF EXISTS notifications_created_idx;
ALTER TABLE notifications DROP COLUMN IF EXISTS details;
ALTER TABLE alert_rules
    DROP COLUMN IF EXISTS last_evaluated_at,
    DROP COLUMN IF EXISTS last_value,
    DROP COLUMN IF EXISTS firing_since;
