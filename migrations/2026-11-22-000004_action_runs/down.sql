DROP TABLE IF EXISTS action_runs;
