DROP TABLE IF EXISTS email_suppressions;
