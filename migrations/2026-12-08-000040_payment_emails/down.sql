SET LOCAL ROLE junction_system;
DELETE FROM notifications WHERE kind = 'payment_email';
RESET ROLE;

ALTER TABLE notifications
    DROP CONSTRAINT notifications_kind_check,
    ADD CONSTRAINT notifications_kind_check CHECK (kind IN ('kpi_alert', 'sync_failed',
        'needs_reauth', 'dead_letter', 'weekly_report', 'daily_digest'));
