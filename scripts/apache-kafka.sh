#!/usr/bin/env bash
# Run a real Apache Kafka broker (KRaft, combined broker+controller) as a plain
# local java process. No Docker, no tarball: jars come from Maven Central via
# tools/apache-kafka/pom.xml.
#
# Usage:
#   scripts/apache-kafka.sh fetch                 resolve jars into the cache (idempotent)
#   scripts/apache-kafka.sh start  [--dir DIR] [--security sasl-ssl]
#                                                 fetch if needed, format fresh storage, start,
#                                                 wait until ready, print KAFKA_BOOTSTRAP_SERVERS=...
#   scripts/apache-kafka.sh stop   [--dir DIR]    TERM, then KILL after a bounded wait
#   scripts/apache-kafka.sh status [--dir DIR]    exit 0 and print bootstrap if running and ready
#   scripts/apache-kafka.sh restart [--dir DIR]   stop, then start again on the same data and ports
#   scripts/apache-kafka.sh classpath             print the broker classpath (after fetch)
#
# Environment:
#   KAFKA_SUITE_CACHE       cache root (default ~/.cache/kafka-suite)
#   APACHE_KAFKA_VERSION    version to use (default 4.3.1, falls back to 4.3.0 if it can't be fetched)
#   APACHE_KAFKA_HEAP       JVM heap options (default "-Xms256m -Xmx768m")
#   APACHE_KAFKA_START_TIMEOUT  seconds to wait for readiness (default 120)
#   APACHE_KAFKA_STOP_TIMEOUT   seconds to wait after TERM before KILL (default 30)
#   APACHE_KAFKA_PORT, APACHE_KAFKA_CONTROLLER_PORT   fixed ports instead of free ones
#   JAVA                    java binary (default: java on PATH)
#   APACHE_KAFKA_EXTRA_PROPERTIES  extra server.properties lines (key=value, newline-separated)
#
# DIR (default <repo>/target/apache-kafka) receives server.properties,
# log4j2.properties, data/ (wiped at each start), server.log, kafka.pid,
# bootstrap (host:port) and env (KAFKA_BOOTSTRAP_SERVERS=host:port).
#
# --security sasl-ssl (default: plaintext, PLAINTEXT listener only) adds, beside PLAINTEXT:
#   SASL_SSL and SASL_PLAINTEXT listeners with PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and
#   OAUTHBEARER (Kafka's unsecured JWS validator: test use only), and an SSL listener that
#   requires a client certificate. A throw-away CA, a broker certificate for
#   localhost/127.0.0.1 and a client certificate are made with openssl in DIR/tls
#   (ca.pem, other-ca.pem (an unrelated CA), broker.p12, client.pem, client.key (SEC1 EC),
#   client-pkcs8.key). Users: alice/alice-secret and admin/admin-secret for every mechanism
#   (PLAIN in the JAAS config, SCRAM created at format time). DIR/security.env then holds
#   KAFKA_BOOTSTRAP_SERVERS, KAFKA_SASL_SSL_BOOTSTRAP, KAFKA_SASL_PLAINTEXT_BOOTSTRAP,
#   KAFKA_SSL_BOOTSTRAP, KAFKA_CA_FILE, KAFKA_OTHER_CA_FILE, KAFKA_CLIENT_CERT_FILE,
#   KAFKA_CLIENT_KEY_FILE, KAFKA_CLIENT_PKCS8_KEY_FILE, KAFKA_SASL_USER, KAFKA_SASL_PASSWORD,
#   KAFKA_SASL_ADMIN_USER, KAFKA_SASL_ADMIN_PASSWORD (shell syntax: `set -a; . FILE`).
#   It also enables ACLs (StandardAuthorizer; super users admin and ANONYMOUS, i.e. the PLAINTEXT
#   listener; allow.everyone.if.no.acl.found=true) and delegation tokens.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
POM="$REPO_ROOT/tools/apache-kafka/pom.xml"
PROBE="$SCRIPT_DIR/kafka-probe.py"
CACHE="${KAFKA_SUITE_CACHE:-$HOME/.cache/kafka-suite}"
JAVA="${JAVA:-java}"
HEAP="${APACHE_KAFKA_HEAP:--Xms256m -Xmx768m}"
START_TIMEOUT="${APACHE_KAFKA_START_TIMEOUT:-120}"
STOP_TIMEOUT="${APACHE_KAFKA_STOP_TIMEOUT:-30}"
if [[ -n "${APACHE_KAFKA_VERSION:-}" ]]; then
  VERSIONS=("$APACHE_KAFKA_VERSION")
else
  VERSIONS=(4.3.1 4.3.0)
fi

log() { echo "apache-kafka: $*" >&2; }
die() { log "error: $*"; exit 1; }

libs_dir() { echo "$CACHE/apache-kafka-$1/libs"; }
libs_complete() { [[ -f "$(libs_dir "$1")/.complete" ]]; }

# Prints the first version whose libs are complete in the cache, or nothing.
installed_version() {
  local v
  for v in "${VERSIONS[@]}"; do
    if libs_complete "$v"; then echo "$v"; return 0; fi
  done
  return 1
}

fetch_version() {
  local v="$1" dir tmp mvn_log
  dir="$(libs_dir "$v")"
  if libs_complete "$v"; then
    log "kafka $v already in $dir"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (apt-get install -y maven)"
  tmp="$dir.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  mvn_log="$CACHE/apache-kafka-$v/fetch.log"
  log "resolving kafka $v jars from Maven Central (log: $mvn_log)"
  local pom="$POM" needs=("kafka_2.13-$v.jar" "kafka-server-$v.jar" "kafka-clients-$v.jar" "kafka-storage-$v.jar")
  if [[ "$v" == 2.* ]]; then
    # Kafka 2.8+ (KRaft early access): one core jar, log4j 1
    pom="$REPO_ROOT/tools/apache-kafka/pom-2x.xml"
    needs=("kafka_2.13-$v.jar" "kafka-clients-$v.jar")
  fi
  local mvn_args=(-B -q -f "$pom" "-Dkafka.version=$v"
    dependency:copy-dependencies "-DoutputDirectory=$tmp" -DincludeScope=runtime)
  [[ -n "${KAFKA_SUITE_M2:-}" ]] && mvn_args+=("-Dmaven.repo.local=$KAFKA_SUITE_M2")
  if ! timeout 900 mvn "${mvn_args[@]}" >"$mvn_log" 2>&1; then
    rm -rf "$tmp"
    log "maven could not resolve kafka $v (see $mvn_log)"
    return 1
  fi
  local need
  for need in "${needs[@]}"; do
    [[ -f "$tmp/$need" ]] || { rm -rf "$tmp"; log "missing $need after resolve"; return 1; }
  done
  (cd "$tmp" && find . -maxdepth 1 -name '*.jar' -printf '%f\n' | sort >.complete)
  rm -rf "$dir"
  mv "$tmp" "$dir"
  log "kafka $v: $(wc -l <"$dir/.complete") jars in $dir"
}

cmd_fetch() {
  mkdir -p "$CACHE"
  # Serialise concurrent fetches (parallel test runs) on one lock file.
  exec 9>"$CACHE/.apache-kafka.lock"
  flock -w 900 9 || die "timed out waiting for the fetch lock"
  local v
  for v in "${VERSIONS[@]}"; do
    if fetch_version "$v"; then
      libs_dir "$v"
      exec 9>&-
      return 0
    fi
    log "kafka $v unavailable"
  done
  exec 9>&-
  die "no Kafka version could be fetched (tried: ${VERSIONS[*]})"
}

# Is PID a running kafka.Kafka java process?
pid_is_kafka() {
  local pid="$1"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka'
}

read_pid() { if [[ -f "$DIR/kafka.pid" ]]; then cat "$DIR/kafka.pid"; fi; }

probe() { python3 "$PROBE" probe "$1" --timeout 3 >/dev/null 2>&1; }

write_config() {
  local port="$1" cport="$2"
  local listeners="PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport"
  local advertised="PLAINTEXT://127.0.0.1:$port"
  local protomap="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  if [[ "$SECURITY" == sasl-ssl ]]; then
    local sec="SASL_SSL://127.0.0.1:$SASL_SSL_PORT,SASL_PLAINTEXT://127.0.0.1:$SASL_PLAINTEXT_PORT,SSL://127.0.0.1:$SSL_PORT"
    listeners="$listeners,$sec"
    advertised="$advertised,$sec"
    protomap="$protomap,SASL_SSL:SASL_SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL"
  fi
  cat >"$DIR/server.properties" <<EOF
# Generated by scripts/apache-kafka.sh
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=$protomap
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$DIR/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
log.segment.bytes=67108864
EOF
  if [[ "$SECURITY" == sasl-ssl ]]; then
    write_security_config >>"$DIR/server.properties"
  fi
  # Extra broker properties, one key=value per line (e.g. a short
  # log.retention.check.interval.ms to check that test topics are kept).
  if [[ -n "${APACHE_KAFKA_EXTRA_PROPERTIES:-}" ]]; then
    printf '%s\n' "$APACHE_KAFKA_EXTRA_PROPERTIES" >>"$DIR/server.properties"
  fi
  # log4j 1 configuration for Kafka 2.x, which does not read log4j2.properties
  cat >"$DIR/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
  cat >"$DIR/log4j2.properties" <<'EOF'
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
EOF
}

# --- --security sasl-ssl ---------------------------------------------------------------
# Test users: PLAIN in the JAAS config, SCRAM (both hashes) created at format time.
SASL_USERS=(alice:alice-secret admin:admin-secret)
TLS_PASS=kafka-suite-test

# Throw-away PKI in DIR/tls: a CA, a broker certificate for localhost/127.0.0.1 (PKCS12
# keystore), a client certificate (EC P-256; SEC1 and PKCS#8 keys) and an unrelated CA.
gen_tls() {
  command -v openssl >/dev/null || die "openssl not found (apt-get install -y openssl)"
  local t="$DIR/tls"
  rm -rf "$t"
  mkdir -p "$t"
  (
    cd "$t"
    set -e
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 7 -keyout ca.key -out ca.pem \
      -subj "/CN=kafka-suite test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 7 -keyout other-ca.key -out other-ca.pem \
      -subj "/CN=kafka-suite unrelated CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -newkey rsa:2048 -nodes -sha256 -keyout broker.key -out broker.csr -subj "/CN=localhost"
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >broker.ext
    openssl x509 -req -sha256 -days 7 -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -extfile broker.ext -out broker.pem
    openssl pkcs12 -export -in broker.pem -certfile ca.pem -inkey broker.key -name broker \
      -out broker.p12 -passout "pass:$TLS_PASS"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out client-pkcs8.key
    openssl ec -in client-pkcs8.key -out client.key
    openssl req -new -sha256 -key client-pkcs8.key -out client.csr -subj "/CN=alice"
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=clientAuth" >client.ext
    openssl x509 -req -sha256 -days 7 -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -extfile client.ext -out client.pem
  ) >"$DIR/tls.log" 2>&1 || { cat "$DIR/tls.log" >&2; die "certificate generation failed"; }
}

# server.properties additions: TLS keystore/truststore, mechanisms, JAAS per listener.
write_security_config() {
  local t="$DIR/tls" plain_users="" u l
  for u in "${SASL_USERS[@]}"; do plain_users+=" user_${u%%:*}=\"${u#*:}\""; done
  cat <<EOF
# --security sasl-ssl
ssl.keystore.type=PKCS12
ssl.keystore.location=$t/broker.p12
ssl.keystore.password=$TLS_PASS
ssl.key.password=$TLS_PASS
ssl.truststore.type=PEM
ssl.truststore.location=$t/ca.pem
listener.name.ssl.ssl.client.auth=required
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER
# ACLs (admin cases): KRaft's StandardAuthorizer. admin and the PLAINTEXT principal (ANONYMOUS:
# inter-broker, controller and the plaintext test listener) are super users; resources without
# ACLs stay open to everyone, so only what a test restricts is restricted.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:ANONYMOUS
allow.everyone.if.no.acl.found=true
# Delegation tokens (admin cases): needs a secret; SCRAM is already enabled.
delegation.token.secret.key=kafka-suite-test-token-secret
EOF
  for l in sasl_ssl sasl_plaintext; do
    cat <<EOF
listener.name.$l.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret"$plain_users;
listener.name.$l.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.$l.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.$l.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="admin";
EOF
  done
}

# --add-scram arguments for the storage tool, one per line.
scram_format_args() {
  local u m
  for u in "${SASL_USERS[@]}"; do
    for m in SCRAM-SHA-256 SCRAM-SHA-512; do
      printf '%s\n' --add-scram "$m=[name=${u%%:*},password=${u#*:}]"
    done
  done
}

write_security_env() {
  local t="$DIR/tls" bs="$1"
  {
    echo "KAFKA_BOOTSTRAP_SERVERS=$bs"
    echo "KAFKA_SASL_SSL_BOOTSTRAP=127.0.0.1:$SASL_SSL_PORT"
    echo "KAFKA_SASL_PLAINTEXT_BOOTSTRAP=127.0.0.1:$SASL_PLAINTEXT_PORT"
    echo "KAFKA_SSL_BOOTSTRAP=127.0.0.1:$SSL_PORT"
    echo "KAFKA_CA_FILE=$t/ca.pem"
    echo "KAFKA_OTHER_CA_FILE=$t/other-ca.pem"
    echo "KAFKA_CLIENT_CERT_FILE=$t/client.pem"
    echo "KAFKA_CLIENT_KEY_FILE=$t/client.key"
    echo "KAFKA_CLIENT_PKCS8_KEY_FILE=$t/client-pkcs8.key"
    echo "KAFKA_SASL_USER=alice"
    echo "KAFKA_SASL_PASSWORD=alice-secret"
    echo "KAFKA_SASL_ADMIN_USER=admin"
    echo "KAFKA_SASL_ADMIN_PASSWORD=admin-secret"
  } >"$DIR/security.env"
}

cmd_start() {
  local pid
  pid="$(read_pid)"
  if pid_is_kafka "$pid"; then
    local bs
    bs="$(cat "$DIR/bootstrap" 2>/dev/null || true)"
    if [[ -n "$bs" ]] && probe "$bs"; then
      log "already running (pid $pid) in $DIR"
      echo "KAFKA_BOOTSTRAP_SERVERS=$bs"
      return 0
    fi
    log "pid $pid in $DIR is not answering; restarting"
    cmd_stop
  fi

  local version libs
  version="$(installed_version || true)"
  if [[ -z "$version" ]]; then
    cmd_fetch >/dev/null
    version="$(installed_version)" || die "fetch did not produce a complete cache"
  fi
  libs="$(libs_dir "$version")"
  command -v "$JAVA" >/dev/null || die "java not found (apt-get install -y openjdk-17-jre-headless)"

  local attempt rc
  for attempt in 1 2 3; do
    rc=0
    launch_once "$version" "$libs" || rc=$?
    case "$rc" in
      0) return 0 ;;
      2) # exited during startup; with picked ports that may be a lost port race
         if [[ -n "${APACHE_KAFKA_PORT:-}" ]] || ((attempt == 3)); then
           die "kafka exited during startup (see $DIR/server.log)"
         fi
         log "kafka exited during startup; retrying with new ports (attempt $((attempt + 1)))" ;;
      *) die "kafka start failed (see $DIR/server.log)" ;;
    esac
  done
}

# One format+launch+wait. Returns 0 when ready, 2 if the process exited
# during startup, 1 on other failures.
launch_once() {
  local version="$1" libs="$2" pid
  mkdir -p "$DIR"
  rm -rf "$DIR/data" "$DIR/bootstrap" "$DIR/env" "$DIR/kafka.pid" "$DIR/security.env"
  local port cport
  if [[ -n "${APACHE_KAFKA_PORT:-}" ]]; then
    port="$APACHE_KAFKA_PORT"
    cport="${APACHE_KAFKA_CONTROLLER_PORT:-$(python3 "$PROBE" free-ports 1)}"
  else
    read -r port cport < <(python3 "$PROBE" free-ports 2)
  fi
  local format_extra=()
  if [[ "$SECURITY" == sasl-ssl ]]; then
    read -r SASL_SSL_PORT SASL_PLAINTEXT_PORT SSL_PORT < <(python3 "$PROBE" free-ports 3)
    gen_tls
    mapfile -t format_extra < <(scram_format_args)
  fi
  write_config "$port" "$cport"

  local cluster_id
  cluster_id="$(python3 "$PROBE" cluster-id)"
  log "formatting $DIR/data (kafka $version, cluster $cluster_id)"
  if ! timeout 120 "$JAVA" -Xmx256m -cp "$libs/*" \
      "-Dlog4j2.configurationFile=$DIR/log4j2.properties" "-Dlog4j.configuration=file:$DIR/log4j.properties" \
      kafka.tools.StorageTool format --config "$DIR/server.properties" \
      --cluster-id "$cluster_id" "${format_extra[@]}" >"$DIR/format.log" 2>&1; then
    cat "$DIR/format.log" >&2
    log "storage format failed"
    return 1
  fi

  echo "$port $cport" >"$DIR/ports"
  launch_java "$version" "$libs" "$port"
}

# Launches java on the formatted data in DIR (server.properties already written) and waits until
# it answers on 127.0.0.1:PORT. Returns like launch_once.
launch_java() {
  local version="$1" libs="$2" port="$3" pid
  log "starting kafka $version on 127.0.0.1:$port, log $DIR/server.log"
  # setsid: own session, so it survives the caller's shell and job control.
  # The inner shell writes its own pid, then execs java, so the pid is java's.
  # shellcheck disable=SC2086,SC2016
  setsid bash -c 'echo $$ >"$1/kafka.pid"; shift; exec "$@"' _ "$DIR" \
    "$JAVA" $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=$DIR/log4j2.properties" "-Dlog4j.configuration=file:$DIR/log4j.properties" \
    "-Dkafka.logs.dir=$DIR" \
    -cp "$libs/*" kafka.Kafka "$DIR/server.properties" \
    </dev/null >"$DIR/server.log" 2>&1 &
  local launcher=$!

  local bs="127.0.0.1:$port" deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    pid="$(read_pid)"
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$DIR/server.log" >&2 || true
      rm -f "$DIR/kafka.pid"
      return 2
    fi
    if [[ -z "$pid" ]] && ! kill -0 "$launcher" 2>/dev/null; then
      log "kafka launcher exited before writing a pid"
      return 1
    fi
    if [[ -n "$pid" ]] && probe "$bs"; then
      break
    fi
    if ((SECONDS >= deadline)); then
      tail -n 40 "$DIR/server.log" >&2 || true
      cmd_stop || true
      log "kafka not ready after ${START_TIMEOUT}s"
      return 1
    fi
    sleep 0.5
  done
  echo "$bs" >"$DIR/bootstrap"
  echo "KAFKA_BOOTSTRAP_SERVERS=$bs" >"$DIR/env"
  log "ready in $DIR (pid $pid)"
  echo "KAFKA_BOOTSTRAP_SERVERS=$bs"
  if [[ "$SECURITY" == sasl-ssl ]]; then
    write_security_env "$bs"
    log "security listeners in $DIR/security.env"
    cat "$DIR/security.env"
  fi
}

# Stop, then start again on the same data directory and ports (no reformat): what a broker
# bounce looks like to clients. Data acknowledged before the stop must still be there.
cmd_restart() {
  [[ -f "$DIR/ports" && -d "$DIR/data" ]] || die "nothing to restart in $DIR (start it first)"
  local port version libs
  read -r port _ <"$DIR/ports"
  local sec=""
  [[ -f "$DIR/security.env" ]] && sec="$(cat "$DIR/security.env")"
  cmd_stop
  version="$(installed_version)" || die "no installed kafka"
  libs="$(libs_dir "$version")"
  # The listeners and TLS files are unchanged: keep the security.env of the first start.
  SECURITY=plaintext launch_java "$version" "$libs" "$port" \
    || die "kafka restart failed (see $DIR/server.log)"
  if [[ -n "$sec" ]]; then echo "$sec" >"$DIR/security.env"; fi
}

cmd_stop() {
  local pid
  pid="$(read_pid)"
  if [[ -z "$pid" ]]; then
    log "not running (no pid file in $DIR)"
    return 0
  fi
  if ! pid_is_kafka "$pid"; then
    log "pid $pid is not a running kafka; cleaning up"
    rm -f "$DIR/kafka.pid" "$DIR/bootstrap" "$DIR/env" "$DIR/security.env"
    return 0
  fi
  log "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid still alive after ${STOP_TIMEOUT}s; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    local _
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  if kill -0 "$pid" 2>/dev/null && pid_is_kafka "$pid"; then
    die "pid $pid did not exit"
  fi
  rm -f "$DIR/kafka.pid" "$DIR/bootstrap" "$DIR/env" "$DIR/security.env"
  log "stopped"
}

cmd_status() {
  local pid bs
  pid="$(read_pid)"
  if ! pid_is_kafka "$pid"; then
    echo "not running"
    return 1
  fi
  bs="$(cat "$DIR/bootstrap" 2>/dev/null || true)"
  if [[ -n "$bs" ]] && probe "$bs"; then
    echo "running pid=$pid KAFKA_BOOTSTRAP_SERVERS=$bs"
    return 0
  fi
  echo "starting or unresponsive pid=$pid"
  return 1
}

cmd_classpath() {
  local version
  version="$(installed_version)" || die "not fetched; run: $0 fetch"
  echo "$(libs_dir "$version")/*"
}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//'; }

main() {
  local cmd="${1:-}"
  [[ -n "$cmd" ]] || { usage; exit 2; }
  shift
  DIR="$REPO_ROOT/target/apache-kafka"
  SECURITY=plaintext
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --dir) DIR="$2"; shift 2 ;;
      --dir=*) DIR="${1#--dir=}"; shift ;;
      --security) SECURITY="$2"; shift 2 ;;
      --security=*) SECURITY="${1#--security=}"; shift ;;
      -h|--help) usage; exit 0 ;;
      *) die "unknown argument: $1" ;;
    esac
  done
  case "$SECURITY" in
    plaintext|sasl-ssl) ;;
    *) die "unknown --security $SECURITY (plaintext or sasl-ssl)" ;;
  esac
  case "$cmd" in
    start|stop|restart|status)
      mkdir -p "$DIR"
      DIR="$(cd "$DIR" && pwd)" ;;
  esac
  case "$cmd" in
    fetch) cmd_fetch ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_restart ;;
    status) cmd_status ;;
    classpath) cmd_classpath ;;
    -h|--help|help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
