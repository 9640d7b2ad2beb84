#!/usr/bin/env bash
# A transaction that is open when the broker restarts is never partially visible.
#
# Usage: scripts/txn-restart-test.sh [--dir DIR] [--transaction-version 1|2] [--eos-suite] [--bundled]
#
# --bundled: the bundled broker (target/debug/kafka-broker, data in DIR/data) instead of Apache
# Kafka, killed with SIGKILL and started again on the same data and port; it speaks transaction
# version 1 (no feature to downgrade).
#
# 1. starts Apache Kafka (scripts/apache-kafka.sh, fresh data in DIR, default
#    target/ak-txn-restart); with --transaction-version 1 it downgrades the cluster's
#    transaction.version feature (FeatureCommand) so the AddPartitionsToTxn path is used;
#    with --eos-suite it then runs every other eos:: case of the suite on that broker too
#    (so `--transaction-version 1 --eos-suite` covers the version 1 path end to end);
# 2. runs the suite case eos::restart_ongoing_transaction with EOS_RESTART_PHASE=begin:
#    transaction A committed, transaction B written and acknowledged but left open, and the
#    test process exits;
# 3. stops the broker (TERM; SIGKILL for --bundled) and starts it again on the SAME data
#    directory and ports (apache-kafka.sh restart);
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
DIR="$REPO_ROOT/target/ak-txn-restart"
TV=""
EOS_SUITE=0
BUNDLED=0
KB_PID=""
JAVA="${JAVA:-java}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    --transaction-version) TV="$2"; shift 2 ;;
    --eos-suite) EOS_SUITE=1; shift ;;
    --bundled) BUNDLED=1; TV=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
STATE="$DIR/eos-restart.state"
log() { echo "txn-restart-test: $*" >&2; }

cleanup() {
  if [[ "$BUNDLED" == 1 ]]; then
    [[ -n "$KB_PID" ]] && kill -9 "$KB_PID" 2>/dev/null || true
  else
    "$AK" stop --dir "$DIR" >/dev/null 2>&1 || true
  fi
}
# Starts target/debug/kafka-broker on LISTENER with its data in DIR/data; sets BS and KB_PID.
start_bundled() {
  : >"$DIR/stdout"
  target/debug/kafka-broker --override "log.dirs=$DIR/data" --override "listeners=PLAINTEXT://$1" \
    >"$DIR/stdout" 2>>"$DIR/broker.log" &
  KB_PID=$!
  local _
  for _ in $(seq 1 300); do
    BS="$(sed -n 's/^listening on //p' "$DIR/stdout" | head -1)"
    [[ -n "$BS" ]] && return 0
    kill -0 "$KB_PID" 2>/dev/null || break
    sleep 0.1
  done
  log "the bundled broker did not start"; tail -n 20 "$DIR/broker.log" >&2; exit 1
}
trap cleanup EXIT

cd "$REPO_ROOT"
timeout 900 cargo test -p integration-tests --test suite --no-run >/dev/null 2>&1 \
  || { log "building the suite failed"; exit 1; }

if [[ "$BUNDLED" == 1 ]]; then
  rm -rf "$DIR/data"
  timeout 900 cargo build -q -p kafka-broker --bin kafka-broker || { log "building kafka-broker failed"; exit 1; }
  start_bundled 127.0.0.1:0
else
  "$AK" start --dir "$DIR" >/dev/null
  BS="$(cat "$DIR/bootstrap")"
  CP="$("$AK" classpath)"
fi
log "broker at $BS"

if [[ -n "$TV" && "$BUNDLED" == 0 ]]; then
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
if [[ "$BUNDLED" == 1 ]]; then
  kill -9 "$KB_PID"; wait "$KB_PID" 2>/dev/null || true
  start_bundled "$BS"
else
  timeout 300 "$AK" restart --dir "$DIR" >/dev/null || { log "restart failed"; exit 1; }
fi
log "broker back at $BS"

run_phase check
log "PASS: the open transaction was aborted after the restart, never partially visible"
