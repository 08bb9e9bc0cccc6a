-- An integration can be connected before every setting it needs is known: an OAuth
-- grant first, then the GA4 property or Meta ad account picked from the provider's
-- own list (`GET /v1/integrations/{id}/options/{field}`). Until then it is
-- `needs_setup`: credentials stored, never scheduled (the scheduler claims
-- `active` integrations only) and refused by sync requests.
ALTER TABLE integrations DROP CONSTRAINT integrations_status_check;
ALTER TABLE integrations ADD CONSTRAINT integrations_status_check
    CHECK (status IN ('pending', 'active', 'needs_reauth', 'error', 'disabled', 'needs_setup'));
