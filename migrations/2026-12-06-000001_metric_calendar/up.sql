-- The calendar a workspace reads its KPIs in: "today" in its time zone (an IANA
-- name, checked by the application with chrono-tz) and the first day of its weeks.
ALTER TABLE workspaces
    ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'
        CHECK (length(time_zone) BETWEEN 1 AND 64),
    ADD COLUMN week_start text NOT NULL DEFAULT 'monday'
        CHECK (week_start IN ('monday', 'sunday', 'saturday'));

-- An alert on a money metric watches one currency, or each currency alone (NULL).
ALTER TABLE alert_rules
    ADD COLUMN currency text CHECK (currency ~ '^[A-Z]{3}$');
