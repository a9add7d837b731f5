# What deploy/local/kafka.sh (one node) and deploy/local/kafka-cluster.sh (three nodes) share:
# the jars, the JVM options, the configuration files, the process checks and the readiness probe.
# Sourced, not run: it sets root (the repository root), local_dir (KOTAKU_LOCAL_DIR, .local in the
# repository root) and python (PYTHON, python3; runs kafka_ready.py). The sourcing script defines
# say and die and sets:
#   kafka_home  the directory of the tools' and brokers' log4j2 files and of the JVM's tmp/
#   kafka_libs  the directory of the jars (resolved from Maven Central on first use)
#   java_extra  JVM options added to the common ones (may be empty)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
local_dir="${KOTAKU_LOCAL_DIR:-$root/.local}"
python="${PYTHON:-python3}"

# The pid in the pid file $1 when that process is alive and is a Kafka broker; fails otherwise.
broker_pid() {
  [ -f "$1" ] || return 1
  local pid
  pid="$(cat "$1")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q 'kafka.Kafka' "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Succeeds when a broker on 127.0.0.1:$1 answers requests.
answers() { "$python" "$root/deploy/local/kafka_ready.py" 127.0.0.1 "$1"; }

java_opts() {
  echo "-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent ${java_extra:+$java_extra }-Djava.awt.headless=true -Djava.io.tmpdir=$kafka_home/tmp"
}

tool() {
  # shellcheck disable=SC2046
  java -Xmx256M $(java_opts) -Dlog4j2.configurationFile="$kafka_home/tools-log4j2.properties" -cp "$kafka_libs/*" "$@"
}

# Starts a broker in the background, detached from the terminal, its console appended to a file;
# its pid is then in $!. Arguments: heap, log directory, server.properties, console file.
spawn_broker() {
  # shellcheck disable=SC2046
  nohup java -Xms"$1" -Xmx"$1" $(java_opts) -Dlog4j2.configurationFile="$kafka_home/log4j2.properties" \
    -Dkafka.logs.dir="$2" -cp "$kafka_libs/*" kafka.Kafka "$3" \
    >>"$4" 2>&1 </dev/null &
}

resolve_jars() {
  if [ -f "$kafka_libs/.complete" ]; then return; fi
  command -v java >/dev/null || die "java not found: install a Java 17 runtime (apt-get install openjdk-17-jre-headless)"
  command -v mvn >/dev/null || die "mvn not found: install Maven (apt-get install maven)"
  say "resolving Kafka jars from Maven Central (first run only)"
  rm -rf "$kafka_libs"
  mvn -q -B -f "$root/deploy/local/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$kafka_libs" -DincludeScope=runtime || die "could not resolve the Kafka jars with mvn"
  touch "$kafka_libs/.complete"
}

# The properties every node has, single or in a cluster. Arguments: node id, the controller quorum
# voters, client port, controller port, data directory, replication factor, minimum in-sync replicas.
server_properties() {
  cat <<PROPS
process.roles=broker,controller
node.id=$1
controller.quorum.voters=$2
listeners=PLAINTEXT://127.0.0.1:$3,CONTROLLER://127.0.0.1:$4
advertised.listeners=PLAINTEXT://127.0.0.1:$3
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$5
num.partitions=3
default.replication.factor=$6
min.insync.replicas=$7
auto.create.topics.enable=false
offsets.topic.replication.factor=$6
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=$6
transaction.state.log.min.isr=$7
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=$6
share.coordinator.state.topic.min.isr=$7
group.initial.rebalance.delay.ms=0
delete.topic.enable=true
PROPS
}

# A log4j2 configuration with one console appender. Arguments: name, stream (OUT or ERR), root level.
console_log4j() {
  local appender="${2,,}"
  cat <<PROPS
status = warn
name = $1
appender.$appender.type = Console
appender.$appender.name = STD$2
appender.$appender.target = SYSTEM_$2
appender.$appender.layout.type = PatternLayout
appender.$appender.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = $3
rootLogger.appenderRef.$appender.ref = STD$2
PROPS
}

# The brokers' log4j2 configuration (on stdout, state changes only from WARN) and the tools' (on
# stderr, WARN), in $kafka_home. Argument: the name of the brokers' configuration.
write_log4j() {
  {
    console_log4j "$1" OUT INFO
    echo "logger.state.name = state.change.logger"
    echo "logger.state.level = WARN"
  } >"$kafka_home/log4j2.properties"
  console_log4j "$1-tools" ERR WARN >"$kafka_home/tools-log4j2.properties"
}
