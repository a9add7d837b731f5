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

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
local_dir="${KOTAKU_LOCAL_DIR:-$root/.local}"
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
python="${PYTHON:-python3}"

say() { printf 'kafka: %s\n' "$*"; }
die() { printf 'kafka: ERROR: %s\n' "$*" >&2; exit 1; }

running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid
  pid="$(cat "$pidfile")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q 'kafka.Kafka' "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ready() { "$python" "$root/deploy/local/kafka_ready.py" 127.0.0.1 "$port"; }

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

java_opts() {
  echo "-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true -Djava.io.tmpdir=$K/tmp"
}

tool() {
  # shellcheck disable=SC2046
  java -Xmx256M $(java_opts) -Dlog4j2.configurationFile="$K/tools-log4j2.properties" -cp "$K/libs/*" "$@"
}

resolve_jars() {
  if [ -f "$K/libs/.complete" ]; then return; fi
  command -v java >/dev/null || die "java not found: install a Java 17 runtime (apt-get install openjdk-17-jre-headless)"
  command -v mvn >/dev/null || die "mvn not found: install Maven (apt-get install maven)"
  say "resolving Kafka jars from Maven Central (first run only)"
  rm -rf "$K/libs"
  mvn -q -B -f "$root/deploy/local/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$K/libs" -DincludeScope=runtime || die "could not resolve the Kafka jars with mvn"
  touch "$K/libs/.complete"
}

write_configs() {
  cat > "$K/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$K/data
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
delete.topic.enable=true
PROPS
  cat > "$K/log4j2.properties" <<'PROPS'
status = warn
name = kotaku-kafka
appender.out.type = Console
appender.out.name = STDOUT
appender.out.target = SYSTEM_OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
PROPS
  cat > "$K/tools-log4j2.properties" <<'PROPS'
status = warn
name = kotaku-kafka-tools
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
PROPS
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
  # shellcheck disable=SC2046
  nohup java -Xms"$heap" -Xmx"$heap" $(java_opts) -Dlog4j2.configurationFile="$K/log4j2.properties" \
    -Dkafka.logs.dir="$K/logs" -cp "$K/libs/*" kafka.Kafka "$K/server.properties" \
    >"$K/logs/server.out" 2>&1 </dev/null &
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
