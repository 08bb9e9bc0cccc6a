-- Addresses Junction must never mail again in a workspace: filled from the email
-- provider's bounce and complaint webhooks (Resend), read before every notification.
CREATE TABLE email_suppressions (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- Stored lower-cased, so a lookup is one equality.
    address text NOT NULL CHECK (address = lower(address) AND length(address) BETWEEN 3 AND 320),
    reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    -- The integration whose webhook reported it; kept when that integration goes.
    source_integration_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, address)
);

ALTER TABLE email_suppressions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON email_suppressions
    USING (workspace_id = junction_current_workspace())
    WITH CHECK (workspace_id = junction_current_workspace());
GRANT SELECT, INSERT, UPDATE, DELETE ON email_suppressions TO junction_app;
