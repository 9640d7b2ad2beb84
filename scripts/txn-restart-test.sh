#!/usr/bin/env bash
# A transaction that is open when Apache Kafka restarts is never partially visible.
#
# Usage: scripts/txn-restart-test.sh [--dir DIR] [--transaction-version 1|2] [--eos-suite]
#
# 1. starts Apache Kafka (scripts/apache-kafka.sh, fresh data in DIR, default
#    target/ak-txn-restart); with --transaction-version 1 it downgrades the cluster's
#    transaction.version feature (FeatureCommand) so the AddPartitionsToTxn path is used;
#    with --eos-suite it then runs every other eos:: case of the suite on that broker too
#    (so `--transaction-version 1 --eos-suite` covers the version 1 path end to end);
# 2. runs the suite case eos::restart_ongoing_transaction with EOS_RESTART_PHASE=begin:
#    transaction A committed, transaction B written and acknowledged but left open, and the
#    test process exits;
# 3. stops the broker (TERM) and starts it again on the SAME data directory and ports
#    (apache-kafka.sh restart would wipe the data, so the relaunch is done here);
# 4. runs the case with EOS_RESTART_PHASE=check: read_committed sees A and stops before B;
#    a new producer with the same transactional.id aborts B at init_transactions and commits
#    C; read_committed then sees exactly A and C, read_uncommitted A, B and C;
# 5. stops the broker (always, also on failure).
#
# Both phases also check the transaction protocol the producer chose (EOS_EXPECT_TRANSACTION_VERSION):
# the --transaction-version given, else 2 (what Apache Kafka 4.3.1 finalizes on a fresh cluster).
#
# Bounded: every step has a timeout; exit status 0 only when both phases PASS.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
AK="$SCRIPT_DIR/apache-kafka.sh"
PROBE="$SCRIPT_DIR/kafka-probe.py"
DIR="$REPO_ROOT/target/ak-txn-restart"
TV=""
EOS_SUITE=0
JAVA="${JAVA:-java}"
HEAP="${APACHE_KAFKA_HEAP:--Xms256m -Xmx768m}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    --transaction-version) TV="$2"; shift 2 ;;
    --eos-suite) EOS_SUITE=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
STATE="$DIR/eos-restart.state"
log() { echo "txn-restart-test: $*" >&2; }

cleanup() { "$AK" stop --dir "$DIR" >/dev/null 2>&1 || true; }
trap cleanup EXIT

cd "$REPO_ROOT"
timeout 900 cargo test -p integration-tests --test suite --no-run >/dev/null 2>&1 \
  || { log "building the suite failed"; exit 1; }

"$AK" start --dir "$DIR" >/dev/null
BS="$(cat "$DIR/bootstrap")"
CP="$("$AK" classpath)"
log "broker at $BS"

if [[ -n "$TV" ]]; then
  timeout 120 "$JAVA" -Xmx128m -cp "$CP" org.apache.kafka.tools.FeatureCommand \
    --bootstrap-server "$BS" downgrade --feature "transaction.version=$TV" >&2 \
    || timeout 120 "$JAVA" -Xmx128m -cp "$CP" org.apache.kafka.tools.FeatureCommand \
      --bootstrap-server "$BS" upgrade --feature "transaction.version=$TV" >&2
fi

if [[ "$EOS_SUITE" == 1 ]]; then
  log "eos:: cases on this broker (transaction.version ${TV:-2})"
  out="$(EOS_EXPECT_TRANSACTION_VERSION="${TV:-2}" KAFKA_BOOTSTRAP_SERVERS="$BS" \
    timeout 600 cargo test -p integration-tests --test suite -- eos:: 2>&1)" || true
  echo "$out" | grep -E '^(PASS|FAIL|SKIP|integration suite)|protocol version' >&2 || true
  echo "$out" | grep -qE '^integration suite .*: [1-9][0-9]* passed, 0 failed' \
    || { log "eos:: cases failed"; echo "$out" | tail -n 40 >&2; exit 1; }
fi

run_phase() {
  local phase="$1" out
  out="$(EOS_RESTART_PHASE="$phase" EOS_RESTART_STATE="$STATE" KAFKA_BOOTSTRAP_SERVERS="$BS" \
    EOS_EXPECT_TRANSACTION_VERSION="${TV:-2}" \
    timeout 300 cargo test -p integration-tests --test suite -- eos::restart_ongoing_transaction 2>&1)" || true
  echo "$out" | grep -E '^(PASS|FAIL|SKIP)|restart:|protocol version|panicked|assert' >&2 || true
  echo "$out" | grep -q '^PASS eos::restart_ongoing_transaction' \
    || { log "phase $phase failed"; echo "$out" | tail -n 30 >&2; exit 1; }
}

rm -f "$STATE"
run_phase begin

log "restarting the broker on the same data"
"$AK" stop --dir "$DIR" >/dev/null
# Same server.properties (same ports, same log.dirs), no format: the data survives.
# shellcheck disable=SC2086,SC2016
setsid bash -c 'echo $$ >"$1/kafka.pid"; shift; exec "$@"' _ "$DIR" \
  "$JAVA" $HEAP -XX:+UseG1GC -Djava.awt.headless=true \
  "-Dlog4j2.configurationFile=$DIR/log4j2.properties" "-Dkafka.logs.dir=$DIR" \
  -cp "$CP" kafka.Kafka "$DIR/server.properties" \
  </dev/null >"$DIR/server-restarted.log" 2>&1 &
deadline=$((SECONDS + 120))
until python3 "$PROBE" probe "$BS" --timeout 3 >/dev/null 2>&1; do
  if ((SECONDS >= deadline)); then
    log "broker not ready after the restart"; tail -n 30 "$DIR/server-restarted.log" >&2; exit 1
  fi
  sleep 0.5
done
echo "$BS" >"$DIR/bootstrap"
log "broker back at $BS"

run_phase check
log "PASS: the open transaction was aborted after the restart, never partially visible"
