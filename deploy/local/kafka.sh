#!/usr/bin/env bash
# A single-node Apache Kafka 4.x (KRaft, combined broker+controller) on 127.0.0.1, run from
# Maven Central jars. Usage: deploy/local/kafka.sh start|stop|status|reset
#   start   resolve jars (first time), format storage (first time), start, wait until ready
#   stop    SIGTERM by pid, wait for a clean shutdown, SIGKILL only after a timeout
#   reset   stop, then delete all broker data (topics, offsets)
# Settings (environment): KAFKA_PORT, KAFKA_CONTROLLER_PORT (KAFKA_PORT+1), KAFKA_HEAP (1G),
# KOTAKU_LOCAL_DIR (.local in the repo root), KAFKA_SECURITY and KAFKA_SCRAM_USERS (below).
# Each clone runs its own broker. Without KAFKA_PORT the first start takes 9092/9093 when they are
# free and otherwise a free pair from a range derived from the clone's path; the pair is kept in
# $KOTAKU_LOCAL_DIR/kafka/ports, and the address is written to $KOTAKU_LOCAL_DIR/kafka.env
# (KOTAKU_KAFKA_BOOTSTRAP=...), where the tools, the tests and the dev stack read it. A broker of
# another clone or program is never used unless KAFKA_PORT names it.
#
# KAFKA_SECURITY=sasl_ssl makes a secured broker instead (kafka-common.sh, security_properties):
# SCRAM-SHA-512 over TLS on the client port, the ACL authorizer with nothing allowed by default, a
# super user "admin". At the first start the script makes a local CA and the broker's certificate
# in $KOTAKU_LOCAL_DIR/kafka/tls/ (clients trust tls/ca.crt), the admin password in
# kafka/admin.password, and stores the SCRAM credentials of admin and of the users listed in the
# file KAFKA_SCRAM_USERS (lines "name password") while formatting the storage. The admin's client
# settings are written to kafka/admin.env (KOTAKU_KAFKA_* lines). The security of a broker is fixed
# when its storage is formatted: to change it, reset.
set -euo pipefail

# shellcheck source=deploy/local/kafka-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/kafka-common.sh"

K="$local_dir/kafka"
portfile="$K/ports"
envfile="$local_dir/kafka.env"
explicit="${KAFKA_PORT:+yes}"
if [ -n "$explicit" ]; then
  port="$KAFKA_PORT"
  cport="${KAFKA_CONTROLLER_PORT:-$((port + 1))}"
elif [ -f "$portfile" ]; then
  read -r port cport <"$portfile"
else
  port=9092
  cport=9093
fi
heap="${KAFKA_HEAP:-1G}"
pidfile="$K/kafka.pid"
kafka_home="$K"
kafka_libs="$K/libs"
java_extra=""
security="${KAFKA_SECURITY:-plaintext}"
tls="$K/tls"

say() { printf 'kafka: %s\n' "$*"; }
die() { printf 'kafka: ERROR: %s\n' "$*" >&2; exit 1; }

case "$security" in plaintext | sasl_ssl) ;; *) die "KAFKA_SECURITY is plaintext or sasl_ssl, not $security" ;; esac

running_pid() { broker_pid "$pidfile"; }

ready() {
  if [ "$security" = sasl_ssl ]; then answers "$port" "$tls/ca.crt"; else answers "$port"; fi
}

# A free client/controller port pair for this clone, searched from a base derived from its path.
free_ports() {
  local base
  base=$((20000 + 2 * (16#$(printf '%s' "$root" | sha256sum | cut -c1-4) % 4000)))
  for i in $(seq 0 99); do
    port=$((base + 2 * i))
    cport=$((port + 1))
    if ! port_taken "$port" && ! port_taken "$cport"; then return; fi
  done
  die "no free port pair from $base: set KAFKA_PORT"
}

remember_ports() {
  [ -n "$explicit" ] || echo "$port $cport" >"$portfile"
  echo "KOTAKU_KAFKA_BOOTSTRAP=127.0.0.1:$port" >"$envfile"
  if [ "$security" = sasl_ssl ]; then
    (
      umask 077
      printf '%s\n' "KOTAKU_KAFKA_BOOTSTRAP=127.0.0.1:$port" "KOTAKU_KAFKA_SECURITY_PROTOCOL=SASL_SSL" \
        "KOTAKU_KAFKA_SASL_MECHANISM=SCRAM-SHA-512" "KOTAKU_KAFKA_SASL_USERNAME=$admin_user" \
        "KOTAKU_KAFKA_SASL_PASSWORD=$(admin_password "$K/admin.password")" "KOTAKU_KAFKA_SSL_CAFILE=$tls/ca.crt" \
        >"$K/admin.env"
    )
  fi
}

write_configs() {
  (
    umask 077  # a secured broker's file holds the admin password
    server_properties 1 "1@127.0.0.1:$cport" "$port" "$cport" "$K/data" 1 1 >"$K/server.properties"
    if [ "$security" = sasl_ssl ]; then
      make_tls "$tls"
      security_properties "$tls" "$(admin_password "$K/admin.password")" >>"$K/server.properties"
    fi
  )
  write_log4j kotaku-kafka
}

start() {
  mkdir -p "$K/logs" "$K/tmp"
  if pid="$(running_pid)"; then
    if ready; then remember_ports; say "already running (pid $pid) on 127.0.0.1:$port"; return; fi
  elif port_taken "$port" || port_taken "$cport"; then
    if [ -z "$explicit" ]; then
      say "127.0.0.1:$port or :$cport is taken (another clone's broker?); choosing this clone's own ports"
      free_ports
    elif ready; then
      remember_ports
      say "a Kafka broker not started by this project answers on 127.0.0.1:$port (KAFKA_PORT); using it"
      return
    else
      die "port $port or $cport is taken by another program; stop it or set other KAFKA_PORT/KAFKA_CONTROLLER_PORT"
    fi
  fi
  if [ -f "$K/data/meta.properties" ] && [ "$(cat "$K/security" 2>/dev/null || echo plaintext)" != "$security" ]; then
    die "the broker in $K was formatted $(cat "$K/security" 2>/dev/null || echo plaintext), not $security: reset it first"
  fi
  remember_ports
  resolve_jars
  write_configs
  if [ ! -f "$K/data/meta.properties" ]; then
    say "formatting storage in $K/data"
    rm -rf "$K/data"
    local cluster_id scram=()
    cluster_id="$(tool kafka.tools.StorageTool random-uuid)"
    if [ "$security" = sasl_ssl ]; then
      local listed
      listed="$(scram_arguments "$(admin_password "$K/admin.password")" "${KAFKA_SCRAM_USERS:-}")"
      mapfile -t scram <<<"$listed"
    fi
    tool kafka.tools.StorageTool format -t "$cluster_id" -c "$K/server.properties" "${scram[@]}" \
      >"$K/logs/format.out" 2>&1 || { cat "$K/logs/format.out" >&2; die "formatting the storage failed"; }
    echo "$security" >"$K/security"
  fi
  say "starting broker on 127.0.0.1:$port ($security; logs: $K/logs/server.out)"
  : >"$K/logs/server.out"
  spawn_broker "$heap" "$K/logs" "$K/server.properties" "$K/logs/server.out"
  local pid=$!
  echo "$pid" >"$pidfile"
  for _ in $(seq 1 240); do
    if ready; then say "ready (pid $pid)"; return; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$K/logs/server.out" >&2
      die "the broker exited during start-up (see $K/logs/server.out)"
    fi
    sleep 0.5
  done
  tail -n 40 "$K/logs/server.out" >&2
  die "the broker did not answer on 127.0.0.1:$port within 120 s"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then say "not running"; rm -f "$pidfile"; return; fi
  say "stopping (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { say "stopped"; rm -f "$pidfile"; return; }
    sleep 1
  done
  say "no clean shutdown after 60 s; killing"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

status() {
  if pid="$(running_pid)" && ready; then say "running (pid $pid) on 127.0.0.1:$port"; return 0; fi
  if [ -n "$explicit" ] && ready; then say "a broker answers on 127.0.0.1:$port (not started by this project)"; return 0; fi
  say "not running"; return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset) stop; rm -rf "$K/data"; say "data deleted" ;;
  *) echo "usage: $0 start|stop|status|reset" >&2; exit 2 ;;
esac
