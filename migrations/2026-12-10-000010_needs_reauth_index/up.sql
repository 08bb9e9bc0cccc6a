-- Every scheduler pass asks for the integrations that lost their grant and whose
-- owners have not been told yet (junction_unnotified_reauth) or whose endpoints have
-- not been sent `connection.needs_reauth` (junction_unannounced_reauth). Both filter
-- on status = 'needs_reauth' and order by updated_at; without an index each pass
-- read the whole integrations table, dead row versions included, so a backlog of
-- 100,000 due integrations (1,000 passes of 100) cost 100,000 x 1,000 row visits.
-- The partial index holds only the few integrations that need reauthorizing.
CREATE INDEX integrations_needs_reauth_idx ON integrations (updated_at)
    WHERE status = 'needs_reauth';
