#!/usr/bin/env bash
# Producer benchmark: our producer (examples/producer_perf, release) beside Apache Kafka's Java
# producer perf tool (org.apache.kafka.tools.ProducerPerformance from the Maven jars), against
# the SAME Apache Kafka 4.x in one run. Same settings for both: acks, linger.ms=5, batch.size,
# no compression, idempotence on (the default with acks=all), keyless records, 6 partitions.
# Runs alternate (ours, java, ours, java, ...) per size. Prints records/s, MB/s, p50/p99
# send->ack latency, CPU seconds per million records (user+sys of the client process) and
# the ratios ours / java (medians).
#
#   scripts/producer-bench.sh                      starts Apache Kafka in target/producer-bench
#   KAFKA_BOOTSTRAP_SERVERS=h:p scripts/producer-bench.sh     uses a running cluster
#   Env: N_100 (1000000) N_1024 (300000) REPEATS (2) ACKS (all) BATCH (1000000) PARTITIONS (6)
set -euo pipefail
cd "$(dirname "$0")/.."
N_100="${N_100:-1000000}"; N_1024="${N_1024:-300000}"; REPEATS="${REPEATS:-2}"
ACKS="${ACKS:-all}"; BATCH="${BATCH:-1000000}"; PARTITIONS="${PARTITIONS:-6}"
out="$PWD/target/producer-bench"; mkdir -p "$out"
results="$out/results.jsonl"; : >"$results"

started_kafka=""
if [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
  scripts/apache-kafka.sh start --dir "$out/kafka" >"$out/kafka-start.log"
  KAFKA_BOOTSTRAP_SERVERS="$(cat "$out/kafka/bootstrap")"; started_kafka=1
  trap 'scripts/apache-kafka.sh stop --dir "$out/kafka" >/dev/null 2>&1 || true' EXIT
fi
B="${KAFKA_BOOTSTRAP_SERVERS%%,*}"
scripts/apache-kafka.sh fetch >/dev/null
CP="$(scripts/apache-kafka.sh classpath)"
nice cargo build --quiet --release -j 1 -p examples --example producer_perf
OURS="$PWD/target/release/examples/producer_perf"

# Runs a command under /usr/bin/time; prints its stdout, writes CPU seconds to $1.cpu.
timed() { local tag=$1; shift; /usr/bin/time -f "%U %S" -o "$out/$tag.time" "$@" 2>"$out/$tag.err"; }
cpu_of() { awk '{print $1 + $2}' "$out/$1.time"; }

run_ours() { # size n rep
  local size=$1 n=$2 rep=$3 tag="ours-$1-$3" topic="pbench-ours-$1-$3-$$" line
  line="$(timed "$tag" "$OURS" --bootstrap "$B" --topic "$topic" --records "$n" --size "$size" \
    --acks "$ACKS" --partitions "$PARTITIONS" --batch-size "$BATCH" --linger-ms 5 | grep '^{' | tail -1)"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r.update(client="ours", rep=int(sys.argv[2]), cpu_s=float(sys.argv[3])); print(json.dumps(r))' \
    "$line" "$rep" "$(cpu_of "$tag")" | tee -a "$results" >&2
}

run_java() { # size n rep
  local size=$1 n=$2 rep=$3 tag="java-$1-$3" topic="pbench-java-$1-$3-$$" line
  java -Xmx256m -cp "$CP" org.apache.kafka.tools.TopicCommand --bootstrap-server "$B" --create \
    --topic "$topic" --partitions "$PARTITIONS" --replication-factor 1 >/dev/null
  line="$(timed "$tag" java -Xmx1g -cp "$CP" org.apache.kafka.tools.ProducerPerformance \
    --bootstrap-server "$B" --topic "$topic" --num-records "$n" --record-size "$size" --throughput -1 \
    --command-property acks="$ACKS" linger.ms=5 batch.size="$BATCH" | tail -1)"
  # "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency, p50 ms 50th, p95 ms 95th, p99 ms 99th, p999 ms 99.9th."
  python3 - "$line" "$size" "$n" "$rep" "$(cpu_of "$tag")" <<'PY' | tee -a "$results" >&2
import json, re, sys
line, size, n, rep, cpu = sys.argv[1:6]
m = re.search(r"([\d.]+) records/sec \(([\d.]+) MB/sec\).*?(\d+) ms 50th.*?(\d+) ms 99th", line)
if not m:
    sys.exit(f"unparsed java output: {line}")
print(json.dumps(dict(client="java", size=int(size), records=int(n), rep=int(rep), records_per_s=float(m.group(1)),
                      mb_per_s=float(m.group(2)), p50_ms=float(m.group(3)), p99_ms=float(m.group(4)), cpu_s=float(cpu))))
PY
}

for spec in "100 $N_100" "1024 $N_1024"; do
  set -- $spec; size=$1; n=$2
  for rep in $(seq 1 "$REPEATS"); do
    echo "[producer-bench] size=$size rep=$rep" >&2
    run_ours "$size" "$n" "$rep"
    run_java "$size" "$n" "$rep"
  done
done

echo
echo "Producer benchmark against Apache Kafka at $B: acks=$ACKS linger.ms=5 batch.size=$BATCH partitions=$PARTITIONS, medians of $REPEATS"
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(c, s, k):
    v = [r[k] for r in rows if r["client"] == c and r["size"] == s and r.get(k) is not None]
    return statistics.median(v) if v else float("nan")
print(f"{'size':>5} {'client':>6} {'records/s':>12} {'MB/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU s/1M rec':>13}")
for s in sorted({r["size"] for r in rows}):
    for c in ("ours", "java"):
        n = med(c, s, "records")
        cpu_per_m = med(c, s, "cpu_s") / n * 1e6 if n == n and n else float("nan")
        print(f"{s:>5} {c:>6} {med(c,s,'records_per_s'):>12,.0f} {med(c,s,'mb_per_s'):>8.1f} {med(c,s,'p50_ms'):>8.1f} {med(c,s,'p99_ms'):>8.1f} {cpu_per_m:>13.2f}")
    r = med("ours", s, "records_per_s") / med("java", s, "records_per_s")
    cpu = (med("ours", s, "cpu_s") / med("ours", s, "records")) / (med("java", s, "cpu_s") / med("java", s, "records"))
    print(f"{s:>5} ratio  ours/java records/s x{r:.2f}; CPU per record x{cpu:.2f}")
PY
