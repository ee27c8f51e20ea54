#!/usr/bin/env bash
# Start the local PostgreSQL cluster (installing it if missing) and create the test role and database.
# Prints the URL to use as DANGAN_TEST_PG_URL. Needs root (CI runs as root); idempotent.
set -euo pipefail
PG_USER=${PG_USER:-dangan_test}
PG_DB=${PG_DB:-dangan_test}
PG_PASSWORD=${PG_PASSWORD:-dangan_test_pw}   # throwaway local test credential, loopback only

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
if command -v pg_lsclusters >/dev/null 2>&1; then
  if [ -z "$(pg_lsclusters --no-header)" ]; then  # installed without a cluster: make one
    ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    pg_createcluster "$ver" main >&2
  fi
  read -r ver name port status _ < <(pg_lsclusters --no-header | head -n 1)
  if [ "$status" != "online" ]; then pg_ctlcluster "$ver" "$name" start >&2; fi
else
  echo "pg_lsclusters not found" >&2; exit 1
fi
for _ in $(seq 1 30); do
  su postgres -c "psql -p $port -qtAc 'select 1'" >/dev/null 2>&1 && break
  sleep 1
done
su postgres -c "psql -p $port -v ON_ERROR_STOP=1 -qtA" >&2 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD';
  END IF;
END \$\$;
SQL
if ! su postgres -c "psql -p $port -qtAc \"select 1 from pg_database where datname='$PG_DB'\"" | grep -q 1; then
  su postgres -c "createdb -p $port -O $PG_USER $PG_DB" >&2
fi
echo "postgresql+psycopg://$PG_USER:$PG_PASSWORD@127.0.0.1:$port/$PG_DB"
