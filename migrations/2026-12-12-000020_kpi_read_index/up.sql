-- A KPI chart reads one metric of one integration over a date range: the primary
-- key's range. The points of one integration lie on a different table page for
-- every day (each day's sync writes them among every other integration's), so
-- the read visited hundreds of pages for a year. The key's index now also holds
-- `workspace_id` (row-level security's filter) and `value`: with the dimensions
-- rebuilt from `dimension_key`, the read is answered from the index alone
-- (an index-only scan, on pages vacuum has marked all-visible).
ALTER TABLE kpi_points
    DROP CONSTRAINT kpi_points_pkey,
    ADD CONSTRAINT kpi_points_pkey
        PRIMARY KEY (integration_id, metric, date, dimension_key) INCLUDE (workspace_id, value);
