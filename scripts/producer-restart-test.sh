#!/usr/bin/env bash
# Idempotent producer across a broker restart: our producer (idempotence on, acks=all, 5 in
# flight) sends to 6 partitions for SECONDS while the broker is restarted in the middle, then
# every partition is read back and checked: no acknowledged record lost, no duplicate, order
# kept per partition (integration-tests/src/bin/restart-check.rs does both sides).
#
#   scripts/producer-restart-test.sh apache-kafka [SECONDS]   Apache Kafka 4.x (scripts/apache-kafka.sh),
#                                                           graceful stop + start on the same data
#   scripts/producer-restart-test.sh bundled [SECONDS]        the kafka-broker binary, kill -9 and
#                                                           start again on the same data dir
# SECONDS defaults to 20; the restart happens after a third of it. Exit 0 only if every check passed.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:?usage: scripts/producer-restart-test.sh apache-kafka|bundled [SECONDS]}"
secs="${2:-20}"
work="$PWD/target/producer-restart-test/$kind"
rm -rf "$work"; mkdir -p "$work"
cargo build --quiet --locked -p integration-tests --bin restart-check
[ "$kind" = bundled ] && cargo build --quiet --locked -p kafka-broker --bin kafka-broker
CHECK="$PWD/target/debug/restart-check"
topic="restart-$kind-$$"

kb_pid=""
cleanup() {
  if [ "$kind" = apache-kafka ]; then
    scripts/apache-kafka.sh stop --dir "$work/ak" >/dev/null 2>&1 || true
  elif [ -n "$kb_pid" ]; then
    kill -9 "$kb_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

start_bundled() { # listener
  target/debug/kafka-broker --override "log.dirs=$work/data" --override "listeners=PLAINTEXT://$1" \
    --override num.partitions=6 >"$work/stdout" 2>>"$work/broker.log" &
  kb_pid=$!
  for _ in $(seq 1 300); do
    addr="$(sed -n 's/^listening on //p' "$work/stdout" | head -1)"
    [ -n "$addr" ] && return 0
    kill -0 "$kb_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "producer-restart-test: the bundled broker did not start; log tail:"; tail -20 "$work/broker.log"
  exit 1
}

case "$kind" in
  apache-kafka)
    scripts/apache-kafka.sh start --dir "$work/ak" >/dev/null
    bootstrap="$(cat "$work/ak/bootstrap")" ;;
  bundled)
    start_bundled 127.0.0.1:0
    bootstrap="$addr" ;;
  *) echo "unknown broker kind $kind (apache-kafka or bundled)"; exit 2 ;;
esac
echo "producer-restart-test: $kind at $bootstrap, producing for ${secs}s"

"$CHECK" produce --bootstrap "$bootstrap" --topic "$topic" --partitions 6 --seconds "$secs" \
  --acked "$work/acked.txt" >"$work/produce.out" 2>"$work/produce.err" &
prod=$!
sleep $((secs / 3))
echo "producer-restart-test: restarting the broker mid-load"
case "$kind" in
  apache-kafka) scripts/apache-kafka.sh restart --dir "$work/ak" >/dev/null ;;
  bundled)
    kill -9 "$kb_pid"; wait "$kb_pid" 2>/dev/null || true
    sleep 2 # down for a while: requests in flight fail and are retried
    : >"$work/stdout"
    start_bundled "$bootstrap" ;;
esac
echo "producer-restart-test: broker back"
rc=0; wait "$prod" || rc=$?
cat "$work/produce.out"
if [ $rc -ne 0 ]; then
  echo "producer-restart-test: the producer failed:"; tail -20 "$work/produce.err"; exit 1
fi
if "$CHECK" verify --bootstrap "$bootstrap" --topic "$topic" --partitions 6 --acked "$work/acked.txt"; then
  echo "producer-restart-test: $kind passed"
else
  echo "producer-restart-test: $kind FAILED"; exit 1
fi
