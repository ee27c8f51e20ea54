#!/usr/bin/env bash
# First start of the postgres container only (docker-entrypoint-initdb.d runs on an empty data volume):
# create the dangan catalog database and Prefect's own database, each owned by its own login role.
# Passwords come from the environment (DANGAN_DB_PASSWORD, PREFECT_DB_PASSWORD) and reach SQL as psql
# variables (:'name' quotes them), never spliced into the statement text.
set -euo pipefail

: "${DANGAN_DB_PASSWORD:?DANGAN_DB_PASSWORD is not set}"
: "${PREFECT_DB_PASSWORD:?PREFECT_DB_PASSWORD is not set}"

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  -v dangan_pw="$DANGAN_DB_PASSWORD" -v prefect_pw="$PREFECT_DB_PASSWORD" <<'SQL'
CREATE ROLE dangan LOGIN PASSWORD :'dangan_pw';
CREATE DATABASE dangan OWNER dangan ENCODING 'UTF8' TEMPLATE template0;
CREATE ROLE prefect LOGIN PASSWORD :'prefect_pw';
CREATE DATABASE prefect OWNER prefect ENCODING 'UTF8' TEMPLATE template0;
-- Nobody but the owners may connect (PUBLIC gets CONNECT by default).
REVOKE ALL ON DATABASE dangan FROM PUBLIC;
REVOKE ALL ON DATABASE prefect FROM PUBLIC;
SQL

# Prefect's migrations create pg_trgm; it is a trusted extension, but creating it up front as the superuser
# keeps the server start independent of that.
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname prefect \
  -c 'CREATE EXTENSION IF NOT EXISTS pg_trgm;'
