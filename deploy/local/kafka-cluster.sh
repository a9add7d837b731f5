#!/usr/bin/env bash
# A three-node Apache Kafka 4.x cluster (KRaft; each node is broker and controller) on 127.0.0.1,
# from the same Maven Central jars as deploy/local/kafka.sh, for failover tests on one machine.
# It never touches the single-node broker of kafka.sh (other ports, directories and pid files).
#
# Usage: deploy/local/kafka-cluster.sh start|stop|status|reset|bootstrap
#                                      stop-node N [TERM|KILL] | start-node N
#   start       resolve jars (first time), format each node's storage (first time), start all three,
#               wait until every node answers
#   stop        SIGTERM every node, SIGKILL after a timeout
#   reset       stop, then delete the cluster's data
#   bootstrap   print the client bootstrap list
#   stop-node   stop one node (SIGTERM and wait, or SIGKILL at once); start-node starts it again
# Clients: 127.0.0.1:19092,19093,19094; controllers 19192-19194. Replication factor 3 and
# min.insync.replicas 2 by default. Settings (environment): KAFKA_CLUSTER_BASE_PORT (19092),
# KAFKA_CLUSTER_CONTROLLER_BASE_PORT (19192), KAFKA_CLUSTER_HEAP (512M), KOTAKU_LOCAL_DIR (.local).
set -euo pipefail

# shellcheck source=deploy/local/kafka-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/kafka-common.sh"

C="$local_dir/kafka-cluster"
base="${KAFKA_CLUSTER_BASE_PORT:-19092}"
cbase="${KAFKA_CLUSTER_CONTROLLER_BASE_PORT:-19192}"
heap="${KAFKA_CLUSTER_HEAP:-512M}"
nodes=(1 2 3)
kafka_home="$C"
kafka_libs="$local_dir/kafka/libs"  # shared with kafka.sh
java_extra="-XX:TieredStopAtLevel=1"

say() { printf 'kafka-cluster: %s\n' "$*"; }
die() { printf 'kafka-cluster: ERROR: %s\n' "$*" >&2; exit 1; }

port() { echo $((base + $1 - 1)); }
cport() { echo $((cbase + $1 - 1)); }
dir() { echo "$C/node$1"; }
bootstrap() { local out=() n; for n in "${nodes[@]}"; do out+=("127.0.0.1:$(port "$n")"); done; (IFS=,; echo "${out[*]}"); }
voters() { local out=() n; for n in "${nodes[@]}"; do out+=("$n@127.0.0.1:$(cport "$n")"); done; (IFS=,; echo "${out[*]}"); }

running_pid() { broker_pid "$(dir "$1")/kafka.pid"; }

ready() { answers "$(port "$1")"; }

write_configs() {
  local n d
  for n in "${nodes[@]}"; do
    d="$(dir "$n")"
    mkdir -p "$d/logs"
    {
      server_properties "$n" "$(voters)" "$(port "$n")" "$(cport "$n")" "$d/data" 3 2
      echo "unclean.leader.election.enable=false"
      echo "num.network.threads=2"
      echo "num.io.threads=2"
    } >"$d/server.properties"
  done
  write_log4j kotaku-kafka-cluster
}

format_storage() {
  local n d cluster_id=""
  for n in "${nodes[@]}"; do
    d="$(dir "$n")"
    [ -f "$d/data/meta.properties" ] && continue
    [ -n "$cluster_id" ] || cluster_id="$(cat "$C/cluster.id" 2>/dev/null || true)"
    if [ -z "$cluster_id" ]; then
      cluster_id="$(tool kafka.tools.StorageTool random-uuid)"
      echo "$cluster_id" > "$C/cluster.id"
    fi
    say "formatting node $n storage in $d/data"
    rm -rf "$d/data"
    tool kafka.tools.StorageTool format -t "$cluster_id" -c "$d/server.properties" >"$d/logs/format.out" 2>&1 \
      || { cat "$d/logs/format.out" >&2; die "formatting node $n failed"; }
  done
}

launch() {
  local n="$1" d pid
  d="$(dir "$n")"
  if pid="$(running_pid "$n")"; then say "node $n already running (pid $pid)"; return; fi
  if port_taken "$(port "$n")" || port_taken "$(cport "$n")"; then
    die "port $(port "$n") or $(cport "$n") is taken by another program; set KAFKA_CLUSTER_BASE_PORT/KAFKA_CLUSTER_CONTROLLER_BASE_PORT"
  fi
  spawn_broker "$heap" "$d/logs" "$d/server.properties" "$d/logs/server.out"
  echo $! >"$d/kafka.pid"
  say "node $n starting on 127.0.0.1:$(port "$n") (pid $!, logs: $d/logs/server.out)"
}

wait_ready() {
  local n pid
  for _ in $(seq 1 240); do
    local all=1
    for n in "$@"; do
      if ! pid="$(running_pid "$n")"; then
        tail -n 40 "$(dir "$n")/logs/server.out" >&2
        die "node $n exited during start-up (see $(dir "$n")/logs/server.out)"
      fi
      ready "$n" || all=0
    done
    if [ "$all" = 1 ]; then say "ready: $(bootstrap)"; return; fi
    sleep 0.5
  done
  die "the cluster did not answer within 120 s"
}

start() {
  mkdir -p "$C/tmp"
  resolve_jars
  write_configs
  format_storage
  local n
  for n in "${nodes[@]}"; do launch "$n"; done
  wait_ready "${nodes[@]}"
}

stop_node() {
  local n="$1" signal="${2:-TERM}" pid
  if ! pid="$(running_pid "$n")"; then say "node $n not running"; rm -f "$(dir "$n")/kafka.pid"; return; fi
  say "stopping node $n (pid $pid, SIG$signal)"
  kill "-$signal" "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$(dir "$n")/kafka.pid"; say "node $n stopped"; return; }
    sleep 0.5
  done
  say "node $n: no clean shutdown after 30 s; killing"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$(dir "$n")/kafka.pid"
}

stop() {
  local n pids=()
  # SIGTERM all at once: a node shutting down alone waits for its partitions to move elsewhere
  for n in "${nodes[@]}"; do
    if pid="$(running_pid "$n")"; then kill -TERM "$pid"; pids+=("$n"); fi
  done
  for n in "${pids[@]}"; do stop_node "$n" TERM; done
  say "stopped"
}

status() {
  local n rc=0 pid
  for n in "${nodes[@]}"; do
    if pid="$(running_pid "$n")" && ready "$n"; then say "node $n running (pid $pid) on 127.0.0.1:$(port "$n")"
    else say "node $n not running"; rc=1; fi
  done
  return "$rc"
}

check_node() {
  case "${1:-}" in 1|2|3) ;; *) die "node must be 1, 2 or 3" ;; esac
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset) stop; rm -rf "$C"; say "data deleted" ;;
  bootstrap) bootstrap ;;
  stop-node) check_node "${2:-}"; stop_node "$2" "${3:-TERM}" ;;
  start-node) check_node "${2:-}"; launch "$2"; wait_ready "$2" ;;
  *) echo "usage: $0 start|stop|status|reset|bootstrap|stop-node N [TERM|KILL]|start-node N" >&2; exit 2 ;;
esac
