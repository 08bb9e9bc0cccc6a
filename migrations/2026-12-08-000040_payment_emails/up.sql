-- Payment emails: a payment provider's webhook event (a payment succeeded, failed or
-- was refunded) mailed to the customer or the workspace's own addresses, when the
-- integration asks for it. Recorded as notifications like every other email, so each
-- is sent once (its dedupe key names the event) through the notify queue.
ALTER TABLE notifications
    DROP CONSTRAINT notifications_kind_check,
    ADD CONSTRAINT notifications_kind_check CHECK (kind IN ('kpi_alert', 'sync_failed',
        'needs_reauth', 'dead_letter', 'weekly_report', 'daily_digest', 'payment_email'));
