#!/usr/bin/env bash
# A single-node Apache Kafka 4.x (KRaft, combined broker+controller) on 127.0.0.1, run from
# Maven Central jars. Usage: deploy/local/kafka.sh start|stop|status|reset
#   start   resolve jars (first time), format storage (first time), start, wait until ready
#   stop    SIGTERM by pid, wait for a clean shutdown, SIGKILL only after a timeout
#   reset   stop, then delete all broker data (topics, offsets)
# Settings (environment): KAFKA_PORT, KAFKA_CONTROLLER_PORT (KAFKA_PORT+1), KAFKA_HEAP (1G),
# KOTAKU_LOCAL_DIR (.local in the repo root).
# Each clone runs its own broker. Without KAFKA_PORT the first start takes 9092/9093 when they are
# free and otherwise a free pair from a range derived from the clone's path; the pair is kept in
# $KOTAKU_LOCAL_DIR/kafka/ports, and the address is written to $KOTAKU_LOCAL_DIR/kafka.env
# (KOTAKU_KAFKA_BOOTSTRAP=...), where the tools, the tests and the dev stack read it. A broker of
# another clone or program is never used unless KAFKA_PORT names it.
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

say() { printf 'kafka: %s\n' "$*"; }
die() { printf 'kafka: ERROR: %s\n' "$*" >&2; exit 1; }

running_pid() { broker_pid "$pidfile"; }

ready() { answers "$port"; }

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
}

write_configs() {
  server_properties 1 "1@127.0.0.1:$cport" "$port" "$cport" "$K/data" 1 1 >"$K/server.properties"
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
  remember_ports
  resolve_jars
  write_configs
  if [ ! -f "$K/data/meta.properties" ]; then
    say "formatting storage in $K/data"
    rm -rf "$K/data"
    local cluster_id
    cluster_id="$(tool kafka.tools.StorageTool random-uuid)"
    tool kafka.tools.StorageTool format -t "$cluster_id" -c "$K/server.properties" >"$K/logs/format.out" 2>&1 \
      || { cat "$K/logs/format.out" >&2; die "formatting the storage failed"; }
  fi
  say "starting broker on 127.0.0.1:$port (logs: $K/logs/server.out)"
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
