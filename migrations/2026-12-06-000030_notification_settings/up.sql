-- Notifications a workspace controls, independent of its alert rules.
--
-- 1. notification_settings: who hears of failed syncs, lost grants and dead letters
--    (one list per kind), and whether each notice is mailed at once or gathered into
--    a daily digest at an hour of the workspace's time zone. A workspace without a
--    row keeps the old rule: the recipients of its enabled alert rules hear of
--    everything, at once.
-- 2. weekly_report_settings: the weekly KPI report (recipients, weekday, hour, time
--    zone, metrics). One report per workspace and ISO week: its notification's dedupe
--    key names the week.
-- 3. notifications: `daily_digest` notifications, and notices held for the digest
--    (`awaiting_digest`, then `digested` once a digest carries them).
-- 4. action_runs: which recipients the suppression list dropped from an action that
--    sends email.
-- 5. integrations: an integration that needs a reconnect says so in its health
--    (`needs_reauth`), instead of showing its last good check.

CREATE TABLE notification_settings (
    workspace_id uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    -- Stored trimmed and lower-cased; an empty list means nobody hears of that kind.
    sync_failed_recipients text[] NOT NULL DEFAULT '{}' CHECK (cardinality(sync_failed_recipients) <= 50),
    needs_reauth_recipients text[] NOT NULL DEFAULT '{}' CHECK (cardinality(needs_reauth_recipients) <= 50),
    dead_letter_recipients text[] NOT NULL DEFAULT '{}' CHECK (cardinality(dead_letter_recipients) <= 50),
    delivery text NOT NULL DEFAULT 'immediate' CHECK (delivery IN ('immediate', 'daily_digest')),
    digest_hour smallint NOT NULL DEFAULT 8 CHECK (digest_hour BETWEEN 0 AND 23),
    -- An IANA time zone name (checked by the application against its tz database).
    time_zone text NOT NULL DEFAULT 'UTC' CHECK (length(time_zone) BETWEEN 1 AND 64),
    -- The local day of the last digest pass: one digest per day at most.
    last_digest_on date,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE weekly_report_settings (
    workspace_id uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    enabled boolean NOT NULL DEFAULT false,
    recipients text[] NOT NULL DEFAULT '{}' CHECK (cardinality(recipients) <= 50),
    -- ISO weekday: 1 = Monday ... 7 = Sunday.
    weekday smallint NOT NULL DEFAULT 1 CHECK (weekday BETWEEN 1 AND 7),
    hour smallint NOT NULL DEFAULT 8 CHECK (hour BETWEEN 0 AND 23),
    time_zone text NOT NULL DEFAULT 'UTC' CHECK (length(time_zone) BETWEEN 1 AND 64),
    -- Empty: every metric of the workspace's integrations' providers.
    metrics text[] NOT NULL DEFAULT '{}' CHECK (cardinality(metrics) <= 50),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- An enabled report without recipients waits for them (the sweep skips it).
    updated_at timestamptz NOT NULL DEFAULT now()
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['notification_settings', 'weekly_report_settings']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I '
            'USING (workspace_id = junction_current_workspace()) '
            'WITH CHECK (workspace_id = junction_current_workspace())', t);
        EXECUTE format('CREATE POLICY installation_access ON %I TO junction_system '
            'USING (true) WITH CHECK (true)', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO junction_app', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO junction_system', t);
    END LOOP;
END
$$;

ALTER TABLE notifications
    DROP CONSTRAINT notifications_kind_check,
    ADD CONSTRAINT notifications_kind_check CHECK (kind IN ('kpi_alert', 'sync_failed',
        'needs_reauth', 'dead_letter', 'weekly_report', 'daily_digest')),
    DROP CONSTRAINT notifications_status_check,
    ADD CONSTRAINT notifications_status_check CHECK (status IN ('pending', 'sent', 'failed',
        'suppressed', 'awaiting_digest', 'digested'));
-- The notices a digest gathers.
CREATE INDEX notifications_awaiting_digest_idx ON notifications (workspace_id, created_at)
    WHERE status = 'awaiting_digest';

ALTER TABLE action_runs
    ADD COLUMN suppressed_recipients text[] NOT NULL DEFAULT '{}';

ALTER TABLE integrations
    DROP CONSTRAINT integrations_health_check,
    ADD CONSTRAINT integrations_health_check
        CHECK (health IN ('unknown', 'healthy', 'unhealthy', 'needs_reauth'));

-- The lost-grant sweep leaves out workspaces nobody would hear from: the recipients
-- of lost grants are the workspace's settings' when it saved some, else those of its
-- enabled alert rules.
CREATE OR REPLACE FUNCTION junction_unnotified_reauth(p_limit integer)
    RETURNS TABLE (integration_id uuid, workspace_id uuid, reason text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$
        SELECT i.id, i.workspace_id, i.last_error_message
        FROM integrations i
        LEFT JOIN notification_settings s ON s.workspace_id = i.workspace_id
        WHERE i.status = 'needs_reauth'
          AND NOT EXISTS (
              SELECT 1 FROM notifications n
              WHERE n.workspace_id = i.workspace_id
                AND n.integration_id = i.id
                AND n.kind = 'needs_reauth'
                AND n.created_at >= i.updated_at)
          AND CASE
              WHEN s.workspace_id IS NOT NULL THEN cardinality(s.needs_reauth_recipients) > 0
              ELSE EXISTS (
                  SELECT 1 FROM alert_rules r
                  WHERE r.workspace_id = i.workspace_id AND r.enabled)
          END
        ORDER BY i.updated_at
        LIMIT p_limit
    $$;

-- The weekly reports that are on, a page at a time after p_after (by workspace id):
-- when each is due is decided by the worker, with its clock and time-zone database.
CREATE FUNCTION junction_weekly_report_schedules(p_after uuid, p_limit integer)
    RETURNS TABLE (workspace_id uuid, weekday smallint, hour smallint, time_zone text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$
        SELECT s.workspace_id, s.weekday, s.hour, s.time_zone
        FROM weekly_report_settings s
        WHERE s.enabled AND (p_after IS NULL OR s.workspace_id > p_after)
        ORDER BY s.workspace_id
        LIMIT p_limit
    $$;

-- The workspaces that gather their notices into a daily digest, likewise.
CREATE FUNCTION junction_digest_schedules(p_after uuid, p_limit integer)
    RETURNS TABLE (workspace_id uuid, digest_hour smallint, time_zone text, last_digest_on date)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$
        SELECT s.workspace_id, s.digest_hour, s.time_zone, s.last_digest_on
        FROM notification_settings s
        WHERE s.delivery = 'daily_digest' AND (p_after IS NULL OR s.workspace_id > p_after)
        ORDER BY s.workspace_id
        LIMIT p_limit
    $$;

ALTER FUNCTION junction_weekly_report_schedules(uuid, integer) OWNER TO junction_system;
ALTER FUNCTION junction_digest_schedules(uuid, integer) OWNER TO junction_system;
REVOKE ALL ON FUNCTION junction_weekly_report_schedules(uuid, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION junction_digest_schedules(uuid, integer) FROM PUBLIC;

-- Integrations waiting for a reconnect say so in their health from now on.
SET LOCAL ROLE junction_system;
UPDATE integrations
SET health = 'needs_reauth', health_message = last_error_message, health_checked_at = updated_at
WHERE status = 'needs_reauth';
RESET ROLE;
