ALTER TABLE kpi_points
    DROP CONSTRAINT kpi_points_pkey,
    ADD CONSTRAINT kpi_points_pkey PRIMARY KEY (integration_id, metric, date, dimension_key);
