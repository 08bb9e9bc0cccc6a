DELETE FROM integration_logs WHERE operation = 'proxy';
ALTER TABLE integration_logs DROP CONSTRAINT integration_logs_operation_check;
ALTER TABLE integration_logs ADD CONSTRAINT integration_logs_operation_check CHECK (operation IN
    ('connect', 'check', 'sync', 'refresh', 'action', 'webhook', 'revoke', 'update', 'reconnect',
     'alert'));
ALTER TABLE webhook_events DROP COLUMN replays;
DROP FUNCTION junction_outbox_depth();
DROP FUNCTION junction_outbox_failed(bigint[], text, timestamptz);
DROP FUNCTION junction_outbox_relayed(bigint[]);
DROP FUNCTION junction_outbox_claim(integer, interval);
DROP TABLE outbox;
