#!/usr/bin/env bash
# Runs once, when the postgres container initialises an empty data directory: the same roles and
# grants as deploy/local/postgres.sh. One login role per service, each owning only the schema its
# migrations create; passwords come from the environment (never from this repository).
set -euo pipefail

for svc in registration training reporting; do
  var="KOTAKU_PG_PASSWORD_${svc^^}"
  password="${!var:?$var must be set}"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v role="kotaku_$svc" -v password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
SQL
done

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<'SQL'
CREATE DATABASE kotaku;
REVOKE ALL ON DATABASE kotaku FROM PUBLIC;
GRANT CONNECT, CREATE ON DATABASE kotaku TO kotaku_registration, kotaku_training, kotaku_reporting;
SQL
