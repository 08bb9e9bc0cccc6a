ALTER TABLE alert_rules DROP COLUMN currency;
ALTER TABLE workspaces DROP COLUMN week_start, DROP COLUMN time_zone;
