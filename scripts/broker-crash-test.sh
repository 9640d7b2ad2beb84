#!/usr/bin/env bash
# Durability check for the bundled broker: kill -9 it during an acks=all produce load (with
# fsync on every append), restart it on the same data directory, and check that every
# acknowledged record is present. Repeats N times (default 20) and prints lost=0 or fails.
#
#   scripts/broker-crash-test.sh [ITERATIONS]
# Needs the peers venv (scripts/peers.sh install) for confluent-kafka.
set -euo pipefail
cd "$(dirname "$0")/.."
iters="${1:-20}"
CACHE="${KAFKA_SUITE_CACHE:-$HOME/.cache/kafka-suite}"
PY="$CACHE/peers-venv/bin/python"
[ -x "$PY" ] || scripts/peers.sh install --peers python-confluent
cargo build --quiet --release --locked -p kafka-broker
BIN="$PWD/target/release/kafka-broker"
work="$PWD/target/crash-test"
rm -rf "$work"; mkdir -p "$work/data"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
bootstrap="127.0.0.1:$port"
cat > "$work/server.properties" <<PROPS
listeners=PLAINTEXT://$bootstrap
log.dirs=$work/data
num.partitions=3
auto.create.topics.enable=true
log.flush.interval.messages=1
PROPS
pid=""
stop_broker() { if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; pid=""; }
trap stop_broker EXIT
start_broker() {
  "$BIN" --config "$work/server.properties" >>"$work/broker.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    if python3 scripts/kafka-probe.py probe "$bootstrap" --timeout 1 >/dev/null 2>&1; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "crash-test: broker exited; log tail:"; tail -20 "$work/broker.log"; exit 1; }
    sleep 0.2
  done
  echo "crash-test: broker not ready"; exit 1
}
topic="crash-$$"
total_lost=0; total_acked=0
for i in $(seq 1 "$iters"); do
  start_broker
  "$PY" tools/crash-test/produce_acked.py --bootstrap "$bootstrap" --topic "$topic" \
      --acked "$work/acked.txt" --seconds 20 --stall 3 --prefix "it$i" 2>>"$work/producer.log" &
  prod=$!
  # let the load run 1-3 s, then kill -9 mid-flight
  sleep "$(python3 -c 'import random; print(round(random.uniform(1.0, 3.0), 2))')"
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  wait "$prod" || true
  start_broker
  if ! result="$("$PY" tools/crash-test/verify.py --bootstrap "$bootstrap" --topic "$topic" --acked "$work/acked.txt")"; then
    echo "crash-test: iteration $i FAILED: $result"; exit 1
  fi
  acked="$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['acked'])" "$result")"
  lost="$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['lost'])" "$result")"
  total_lost=$((total_lost + lost)); total_acked=$acked
  echo "crash-test: iteration $i: $result"
  stop_broker
done
echo "crash-test: iterations=$iters acked=$total_acked lost=$total_lost"
[ "$total_lost" -eq 0 ]
