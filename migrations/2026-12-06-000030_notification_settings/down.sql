SET LOCAL ROLE junction_system;
UPDATE integrations SET health = 'unhealthy' WHERE health = 'needs_reauth';
DELETE FROM notifications WHERE kind = 'daily_digest';
UPDATE notifications SET status = 'pending' WHERE status = 'awaiting_digest';
UPDATE notifications SET status = 'sent' WHERE status = 'digested';
RESET ROLE;

DROP FUNCTION junction_digest_schedules(uuid, integer);
DROP FUNCTION junction_weekly_report_schedules(uuid, integer);

CREATE OR REPLACE FUNCTION junction_unnotified_reauth(p_limit integer)
    RETURNS TABLE (integration_id uuid, workspace_id uuid, reason text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$
        SELECT i.id, i.workspace_id, i.last_error_message
        FROM integrations i
        WHERE i.status = 'needs_reauth'
          AND NOT EXISTS (
              SELECT 1 FROM notifications n
              WHERE n.workspace_id = i.workspace_id
                AND n.integration_id = i.id
                AND n.kind = 'needs_reauth'
                AND n.created_at >= i.updated_at)
          AND EXISTS (
              SELECT 1 FROM alert_rules r
              WHERE r.workspace_id = i.workspace_id AND r.enabled)
        ORDER BY i.updated_at
        LIMIT p_limit
    $$;

ALTER TABLE integrations
    DROP CONSTRAINT integrations_health_check,
    ADD CONSTRAINT integrations_health_check CHECK (health IN ('unknown', 'healthy', 'unhealthy'));

ALTER TABLE action_runs DROP COLUMN suppressed_recipients;

DROP INDEX notifications_awaiting_digest_idx;
ALTER TABLE notifications
    DROP CONSTRAINT notifications_kind_check,
    ADD CONSTRAINT notifications_kind_check CHECK (kind IN ('kpi_alert', 'sync_failed',
        'needs_reauth', 'dead_letter', 'weekly_report')),
    DROP CONSTRAINT notifications_status_check,
    ADD CONSTRAINT notifications_status_check CHECK (status IN ('pending', 'sent', 'failed',
        'suppressed'));

DROP TABLE weekly_report_settings;
DROP TABLE notification_settings;
