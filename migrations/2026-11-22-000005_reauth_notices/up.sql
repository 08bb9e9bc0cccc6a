-- Integrations that lost their grant outside a sync (a refresh during an API call or
-- an inline action) and whose workspace has not been told: the worker's scheduler
-- sends their notices. Cross-tenant like the claim, and as narrow: it returns only
-- ids and the recorded reason. A workspace without enabled alert rules has no
-- recipients, so it is left out rather than returned on every pass.
CREATE FUNCTION junction_unnotified_reauth(p_limit integer)
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

REVOKE ALL ON FUNCTION junction_unnotified_reauth(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION junction_unnotified_reauth(integer) TO junction_app;
