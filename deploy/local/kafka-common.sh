# What deploy/local/kafka.sh (one node) and deploy/local/kafka-cluster.sh (three nodes) share:
# the jars, the JVM options, the configuration files, the process checks and the readiness probe.
# Sourced, not run: it sets root (the repository root), local_dir (KOTAKU_LOCAL_DIR, .local in the
# repository root) and python (PYTHON, python3; runs kafka_ready.py). The sourcing script defines
# say and die and sets:
#   kafka_home  the directory of the tools' and brokers' log4j2 files and of the JVM's tmp/
#   kafka_libs  the directory of the jars (resolved from Maven Central on first use)
#   java_extra  JVM options added to the common ones (may be empty)
# and may set security (plaintext, the default, or sasl_ssl: see security_properties).

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

# Succeeds when a broker on 127.0.0.1:$1 answers requests; over TLS with the CA file $2, if given.
answers() { "$python" "$root/deploy/local/kafka_ready.py" 127.0.0.1 "$1" ${2:+"$2"}; }

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
# The client listener is PLAINTEXT, or SASL_SSL when security is sasl_ssl (then the controller
# listener is SSL; add security_properties).
server_properties() {
  local client=PLAINTEXT controller=PLAINTEXT
  if [ "${security:-plaintext}" = sasl_ssl ]; then client=SASL_SSL; controller=SSL; fi
  cat <<PROPS
process.roles=broker,controller
node.id=$1
controller.quorum.voters=$2
listeners=$client://127.0.0.1:$3,CONTROLLER://127.0.0.1:$4
advertised.listeners=$client://127.0.0.1:$3
inter.broker.listener.name=$client
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:$controller,$client:$client
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

# A secured node (security=sasl_ssl). Clients and the nodes among themselves authenticate with
# SCRAM-SHA-512 over TLS; the controller listener takes only mutual TLS with a certificate of the
# local CA. Kafka's ACL authorizer allows nothing that no ACL allows; the super users are the admin
# user (SCRAM, password in the admin password file) and the nodes' own certificate.
admin_user=admin
node_principal="CN=kotaku-local-node"

need_openssl() { command -v openssl >/dev/null || die "openssl not found: install it (apt-get install openssl)"; }

# A CA, and a key and certificate for the nodes (127.0.0.1, localhost; server and client use), in
# the directory $1: ca.crt and node.pem (key and chain, as Kafka's PEM key store reads it). Made
# once, at the first secured start, with openssl; nothing in it is ever committed.
make_tls() {
  local d="$1"
  [ -f "$d/node.pem" ] && return
  need_openssl
  say "making a local CA and the node's certificate in $d"
  mkdir -p "$d"
  chmod 700 "$d"
  (
    umask 077
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=kotaku-local-ca" -keyout ca.key -out ca.crt \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/$node_principal" -keyout node.key -out node.csr 2>/dev/null
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth,clientAuth" \
      "authorityKeyIdentifier=keyid" "subjectKeyIdentifier=hash" >node.ext
    openssl x509 -req -in node.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -extfile node.ext \
      -out node.crt 2>/dev/null
    cat node.key node.crt >node.pem
    rm -f node.csr node.ext node.key ca.srl
  ) || die "making the TLS files with openssl failed"
}

# The password of the admin user in the file $1: read, or made there (mode 600) the first time.
admin_password() {
  if [ ! -s "$1" ]; then need_openssl; (umask 077; openssl rand -hex 24 >"$1"); fi
  cat "$1"
}

# The settings of a secured node, after server_properties. Arguments: the directory of make_tls,
# the admin password.
security_properties() {
  cat <<PROPS
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$admin_user" password="$2";
ssl.keystore.type=PEM
ssl.keystore.location=$1/node.pem
ssl.truststore.type=PEM
ssl.truststore.location=$1/ca.crt
listener.name.controller.ssl.client.auth=required
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:$admin_user;User:$node_principal
PROPS
}

# The StorageTool arguments that store the SCRAM-SHA-512 credentials of the admin user (password $1)
# and of the users in the file $2 (lines "name password"; optional), one argument per line.
scram_arguments() {
  local name password
  printf -- '--add-scram\nSCRAM-SHA-512=[name=%s,password=%s]\n' "$admin_user" "$1"
  [ -n "${2:-}" ] || return 0
  [ -f "$2" ] || die "no such file of SCRAM users: $2"
  while read -r name password; do
    [ -n "$name" ] || continue
    [ -n "$password" ] || die "no password for the SCRAM user $name in $2"
    [[ "$name$password" =~ ^[A-Za-z0-9._-]+$ ]] || die "SCRAM user names and passwords may hold only letters, digits, '.', '_' and '-' ($name)"
    printf -- '--add-scram\nSCRAM-SHA-512=[name=%s,password=%s]\n' "$name" "$password"
  done <"$2"
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
