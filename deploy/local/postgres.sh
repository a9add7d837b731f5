#!/usr/bin/env bash
# PostgreSQL for the local stack, from Debian's packages.
# Usage: deploy/local/postgres.sh start|stop|crash|stop-if-ours|restart|status|database
#   start    install the server if missing, start the cluster if stopped, wait until it accepts
#            connections, create the project's roles and this clone's database (idempotent), and
#            write the port, the database name and the passwords to $KOTAKU_LOCAL_DIR/db.env
#            (passwords generated here, never committed)
#   crash    stop the cluster as a crash would (immediate mode: every session cut, no checkpoint,
#            WAL not yet written lost; the next start recovers from the log); used by the fault suite
#   restart  restart the cluster (used by the failure tests)
#   database print the name of this clone's database
# One role per service, each owning only its own schema, plus kotaku_test (CREATEDB) for test databases.
# Roles belong to the whole PostgreSQL cluster and are shared by every clone on the machine, and so
# do their passwords: they are kept beside the cluster in $KOTAKU_PG_ROLES_FILE
# (/var/lib/postgresql/kotaku-roles.env, mode 600), so that one clone's start never changes the
# password another clone is using. The database is the clone's own: kotaku_<first 8 hex digits of
# the SHA-256 of the clone's path>, unless KOTAKU_PG_DATABASE names another.
set -euo pipefail

say() { printf 'postgres: %s\n' "$*"; }
die() { printf 'postgres: ERROR: %s\n' "$*" >&2; exit 1; }

root="$(cd -P "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
local_dir="${KOTAKU_LOCAL_DIR:-$root/.local}"
envfile="$local_dir/db.env"
database="${KOTAKU_PG_DATABASE:-kotaku_$(printf '%s' "$root" | sha256sum | cut -c1-8)}"
[[ "$database" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] ||
  die "KOTAKU_PG_DATABASE must be a lower-case SQL name (letters, digits, _), not '$database'"
services=(registration training reporting)
rolesfile="${KOTAKU_PG_ROLES_FILE:-/var/lib/postgresql/kotaku-roles.env}"

install_server() {
  command -v pg_ctlcluster >/dev/null && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && return
  [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed and installing it needs root: apt-get install postgresql"
  say "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq postgresql >/dev/null || die "apt-get install postgresql failed"
}

# The first cluster listed (version, name, port, status).
cluster() { pg_lsclusters --no-header 2>/dev/null | awk 'NR==1 {print $1, $2, $3, $4}'; }

ensure_cluster() {
  if [ -z "$(cluster)" ]; then
    local version
    version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
    say "creating cluster $version/main"
    pg_createcluster "$version" main >/dev/null
  fi
}

psql_admin() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$port" "$@"; }

# The password of a role, the same for every clone: from the roles file; else the one this clone
# used before there was such a file (so that it keeps working); else a new one. Recorded in the file.
role_password() {
  local key="KOTAKU_PG_PASSWORD_${1^^}" password
  password="$(grep -E "^$key=" "$rolesfile" 2>/dev/null | cut -d= -f2- || true)"
  if [ -z "$password" ]; then
    password="$(grep -E "^$key=" "$envfile" | cut -d= -f2- || true)"
    [ -n "$password" ] || password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
    (umask 077 && mkdir -p "$(dirname "$rolesfile")" && printf '%s=%s\n' "$key" "$password" >>"$rolesfile")
  fi
  printf '%s\n' "$password"
}

start() {
  install_server
  ensure_cluster
  read -r version name port state <<<"$(cluster)"
  if [ "$state" != "online" ]; then
    say "starting cluster $version/$name on port $port"
    pg_ctlcluster "$version" "$name" start || die "could not start cluster $version/$name (see /var/log/postgresql/)"
    mkdir -p "$local_dir" && touch "$local_dir/postgres.started-here"
  fi
  for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p "$port" && break
    sleep 0.5
  done
  pg_isready -q -h 127.0.0.1 -p "$port" || die "cluster $version/$name does not accept connections on port $port"

  mkdir -p "$local_dir"
  touch "$envfile"
  chmod 600 "$envfile"
  local role password
  local -a lines=("KOTAKU_PG_PORT=$port" "KOTAKU_PG_DATABASE=$database")
  for svc in "${services[@]}" test; do
    role="kotaku_$svc"
    password="$(role_password "$svc")"
    local extra=""
    [ "$svc" = test ] && extra=" CREATEDB"
    psql_admin -d postgres <<SQL
SELECT format('CREATE ROLE %I LOGIN', '$role') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$role') \gexec
ALTER ROLE $role LOGIN PASSWORD '$password'$extra;
SQL
    lines+=("KOTAKU_PG_PASSWORD_${svc^^}=$password")
  done
  psql_admin -d postgres <<SQL
SELECT 'CREATE DATABASE $database' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$database') \gexec
REVOKE ALL ON DATABASE $database FROM PUBLIC;
GRANT CONNECT, CREATE ON DATABASE $database TO kotaku_registration, kotaku_training, kotaku_reporting;
-- test databases are dropped WITH (FORCE), which must end the service roles' sessions
GRANT pg_signal_backend TO kotaku_test;
SQL
  # replaced in one step, so that a reader never sees half a file
  (umask 077 && printf '%s\n' "${lines[@]}" >"$envfile.new")
  mv -f "$envfile.new" "$envfile"
  say "ready on 127.0.0.1:$port, database '$database' (credentials in $envfile)"
  if [ "$database" != kotaku ] &&
    [ "$(psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'kotaku'")" = 1 ]; then
    say "database 'kotaku' (shared by every clone in earlier versions) is no longer used by this clone;"
    say "drop it once no older checkout needs it: runuser -u postgres -- dropdb -p $port kotaku"
  fi
}

stop() {
  read -r version name port state <<<"$(cluster)"
  [ -n "${version:-}" ] || { say "no cluster"; return; }
  if [ "$state" = "online" ]; then pg_ctlcluster "$version" "$name" stop; say "stopped"; else say "not running"; fi
}

crash() {
  read -r version name port state <<<"$(cluster)"
  [ -n "${version:-}" ] || { say "no cluster"; return; }
  if [ "$state" = "online" ]; then pg_ctlcluster "$version" "$name" stop -m immediate; say "crashed (immediate stop)"
  else say "not running"; fi
}

# Stop the cluster only if start() had to start it: never stop a database someone else runs.
stop_if_ours() {
  if [ -f "$local_dir/postgres.started-here" ]; then stop; rm -f "$local_dir/postgres.started-here"
  else say "left running (it was already running before make run)"; fi
}

restart() {
  read -r version name port state <<<"$(cluster)"
  pg_ctlcluster "$version" "$name" restart
  say "restarted"
}

status() {
  read -r version name port state <<<"$(cluster)"
  [ -n "${version:-}" ] || { say "no cluster"; return 1; }
  say "cluster $version/$name on port $port: $state"
  [ "$state" = "online" ]
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  crash) crash ;;
  stop-if-ours) stop_if_ours ;;
  restart) restart ;;
  status) status ;;
  database) printf '%s\n' "$database" ;;
  *) echo "usage: $0 start|stop|crash|stop-if-ours|restart|status|database" >&2; exit 2 ;;
esac
