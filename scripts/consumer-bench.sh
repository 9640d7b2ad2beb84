#!/usr/bin/env bash
# Consumer throughput: our consumer (examples/consumer_perf, release) beside Apache Kafka's Java
# consumer perf tool (org.apache.kafka.tools.ConsumerPerformance, same jars as the broker),
# librdkafka (confluent-kafka from PyPI: tools/bench/rdkafka_perf.py --mode consume, batches of
# 10,000 per consume() call) and franz-go (peers/go/cmd/perf --mode consume), in one run against
# one Apache Kafka broker, reading the same pre-produced topics.
#
#   scripts/consumer-bench.sh            # starts Apache Kafka in a temp dir, stops it at the end
#   KAFKA_BOOTSTRAP=127.0.0.1:9092 scripts/consumer-bench.sh   # use a running broker
#
# Env: N_100 (1000000) N_1024 (300000) SIZES ("100 1024") PARTITIONS (6) REPEATS (3)
#      CLIENTS ("ours java rdkafka franz-go")
# Data is written once per size with Java's ProducerPerformance (acks=1, linger 5 ms). Each
# consume run reads every record from the beginning: ours group-less (assign), Java with a
# fresh group; Java's figures are its fetch.* columns (rebalance time excluded); rdkafka and
# franz-go group-less from the beginning, timed from the first record to the N-th like ours.
set -euo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"
SIZES="${SIZES:-100 1024}"; PARTITIONS="${PARTITIONS:-6}"; REPEATS="${REPEATS:-3}"
N_100="${N_100:-1000000}"; N_1024="${N_1024:-300000}"
CLIENTS="${CLIENTS:-ours java rdkafka franz-go}"
CACHE="${KAFKA_SUITE_CACHE:-$HOME/.cache/kafka-suite}"
VENV_PY="$CACHE/peers-venv/bin/python"; FRANZ="$CACHE/peers-bin/franz-go-perf"
has() { [[ " $CLIENTS " == *" $1 "* ]]; }
OUT="${BENCH_OUT:-/tmp/consumer-bench-$$}"; mkdir -p "$OUT"
log() { echo "[consumer-bench $(date +%H:%M:%S)] $*" >&2; }

LIBS="$("$HERE/scripts/apache-kafka.sh" fetch | tail -n 1)"
CP="$LIBS/*"
JAVA=(java -Xmx1g -cp "$CP")

STARTED=""
if [ -z "${KAFKA_BOOTSTRAP:-}" ]; then
  DIR="$OUT/kafka"
  KAFKA_BOOTSTRAP="$("$HERE/scripts/apache-kafka.sh" start --dir "$DIR" | sed -n 's/^KAFKA_BOOTSTRAP_SERVERS=//p' | tail -n 1)"
  STARTED="$DIR"
  trap '"$HERE/scripts/apache-kafka.sh" stop --dir "$STARTED" >/dev/null 2>&1 || true' EXIT
fi
log "broker $KAFKA_BOOTSTRAP; results in $OUT"

log "building consumer_perf (release, -j 1)"
( cd "$HERE" && nice -n 10 cargo build --release -j 1 -q -p examples --example consumer_perf )
OURS="$HERE/target/release/examples/consumer_perf"
if has rdkafka && ! "$VENV_PY" -c 'import confluent_kafka' 2>/dev/null; then
  "$HERE/scripts/peers.sh" install --peers python-confluent >&2
fi
if has franz-go; then
  mkdir -p "$(dirname "$FRANZ")"
  (cd "$HERE/peers/go" && nice timeout 900 go build -p 1 -mod=readonly -o "$FRANZ" ./cmd/perf)
fi
# One JSON-line client run -> "records/s MiB/s" appended to $OUT/<client>-<size>.txt.
json_run() { # client size rep cmd...
  local c=$1 size=$2 rep=$3; shift 3
  local line
  line="$(timeout 300 "$@" 2>>"$OUT/$c-$size.err" | grep '^{' | tail -n 1)" || true
  echo "$line" >>"$OUT/$c-$size.jsonl"
  [ -n "$line" ] && python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["records_per_s"], r["mb_per_s"])' "$line" >>"$OUT/$c-$size.txt"
  return 0
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

printf '%6s %-8s %7s %14s %10s\n' size client runs records/s MiB/s >"$OUT/summary.txt"
for size in $SIZES; do
  v="N_$size"; n="${!v:-$N_100}"
  topic="cbench-$$-s$size"
  log "size=$size: create $topic ($PARTITIONS partitions), produce $n records"
  "${JAVA[@]}" org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BOOTSTRAP" --create \
    --topic "$topic" --partitions "$PARTITIONS" --replication-factor 1 >"$OUT/create-$size.log" 2>&1
  timeout 600 "${JAVA[@]}" org.apache.kafka.tools.ProducerPerformance --topic "$topic" --num-records "$n" \
    --record-size "$size" --throughput -1 --producer-props bootstrap.servers="$KAFKA_BOOTSTRAP" \
    acks=1 linger.ms=5 batch.size=1000000 compression.type=none >"$OUT/produce-$size.log" 2>&1
  for c in $CLIENTS; do : >"$OUT/$c-$size.txt"; done
  for rep in $(seq 1 "$REPEATS"); do
    for c in $CLIENTS; do
      log "size=$size rep=$rep: $c"
      case "$c" in
        ours) json_run ours "$size" "$rep" "$OURS" --bootstrap "$KAFKA_BOOTSTRAP" --topic "$topic" \
                --records "$n" --size "$size" ;;
        rdkafka) json_run rdkafka "$size" "$rep" "$VENV_PY" "$HERE/tools/bench/rdkafka_perf.py" --mode consume \
                --bootstrap "$KAFKA_BOOTSTRAP" --topic "$topic" --records "$n" --size "$size" ;;
        franz-go) json_run franz-go "$size" "$rep" "$FRANZ" --mode consume --bootstrap "$KAFKA_BOOTSTRAP" \
                --topic "$topic" --records "$n" --size "$size" ;;
        java)
          timeout 300 "${JAVA[@]}" org.apache.kafka.tools.ConsumerPerformance --bootstrap-server "$KAFKA_BOOTSTRAP" \
            --topic "$topic" --messages "$n" --group "cbench-$$-$size-$rep" --timeout 60000 \
            >"$OUT/java-$size-$rep.log" 2>&1 || true
          # CSV: start, end, MB, MB/s, nMsg, nMsg/s, rebalance ms, fetch ms, fetch.MB.sec, fetch.nMsg.sec
          awk -F', *' 'NF>=10 && $1 ~ /^[0-9]/ {print $10, $9}' "$OUT/java-$size-$rep.log" | tail -n 1 >>"$OUT/java-$size.txt" ;;
        *) echo "unknown client $c (ours java rdkafka franz-go)" >&2; exit 2 ;;
      esac
    done
  done
  for c in $CLIENTS; do
    runs=$(grep -c . "$OUT/$c-$size.txt" || true)
    rps=$(awk '{print $1}' "$OUT/$c-$size.txt" | median)
    mbs=$(awk '{print $2}' "$OUT/$c-$size.txt" | median)
    printf '%6s %-8s %4s/%-2s %14.0f %10.1f\n' "$size" "$c" "$runs" "$REPEATS" "$rps" "$mbs" >>"$OUT/summary.txt"
  done
  o=$(awk '{print $1}' "$OUT/ours-$size.txt" | median)
  for c in $CLIENTS; do
    [ "$c" = ours ] && continue
    p=$(awk '{print $1}' "$OUT/$c-$size.txt" | median)
    python3 -c "import sys; o,p=float(sys.argv[1]),float(sys.argv[2]); print(f'{sys.argv[3]:>6} ratio ours/{sys.argv[4]} records/s: {o/p:.2f}x')" "$o" "$p" "$size" "$c" >>"$OUT/summary.txt" || true
  done
done
echo "Consumer benchmark against $KAFKA_BOOTSTRAP (medians of $REPEATS; Java = fetch.* columns of ConsumerPerformance)"
cat "$OUT/summary.txt"
