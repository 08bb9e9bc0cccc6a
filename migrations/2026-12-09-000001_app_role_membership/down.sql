-- Nothing to undo: roles and memberships are the cluster's and may serve other
-- databases of the same owner (as the foundation migration keeps junction_app).
SELECT 1;
