#!/bin/bash
# Run once by the postgres image on an empty data directory
# (/docker-entrypoint-initdb.d): makes Junction's schema owner, a login role that is
# neither superuser nor BYPASSRLS, with CREATEROLE so that `junction migrate` can
# create the junction_app and junction_system roles (docs/operations.md, "Database
# roles"), and its database.
set -euo pipefail
: "${JUNCTION_DB_PASSWORD:?JUNCTION_DB_PASSWORD must be set}"
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    --set=password="$JUNCTION_DB_PASSWORD" <<'SQL'
CREATE ROLE junction LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS PASSWORD :'password';
CREATE DATABASE junction OWNER junction;
SQL
