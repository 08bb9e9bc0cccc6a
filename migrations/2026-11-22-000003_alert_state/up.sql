-- Alert rules remember their evaluation state, so a rule mails when it crosses into
-- breach, not on every sync while it stays there (as Grafana's Normal -> Firing).
ALTER TABLE alert_rules
    -- Set while the rule's condition holds (since when); NULL while it does not.
    ADD COLUMN firing_since timestamptz,
    -- The metric value (or change in percent) of the last evaluation, and when.
    ADD COLUMN last_value double precision,
    ADD COLUMN last_evaluated_at timestamptz;

-- What a notification reports (rule, metric, value, error...), recorded when it is
-- created, so the email sent later (or retried) renders the same content.
ALTER TABLE notifications
    ADD COLUMN details jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(details) = 'object');

-- The notification list (newest first) and the rules of one integration.
CREATE INDEX notifications_created_idx ON notifications (workspace_id, created_at DESC, id);
CREATE INDEX alert_rules_integration_idx ON alert_rules (workspace_id, integration_id);
