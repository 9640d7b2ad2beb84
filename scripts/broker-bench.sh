#!/usr/bin/env bash
# Producer throughput/latency/memory of the bundled broker vs Apache Kafka 4.x, in one run,
# with the same load generator: Apache Kafka's own producer perf tool (kafka-producer-perf-test,
# org.apache.kafka.tools.ProducerPerformance from the Maven jars), acks=all, 6 partitions,
# 100-byte and 1 KiB records. Prints records/s, MB/s, p99 latency and broker peak RSS for both,
# and the ratios (ours / Apache Kafka).
#
#   scripts/broker-bench.sh            defaults: 1,000,000 x 100 B and 300,000 x 1 KiB
#   N_100=.. N_1K=.. BROKERS="ours apache" REPEATS=3 scripts/broker-bench.sh
#       each size is run REPEATS times per broker (a new topic each time); the table shows the
#       medians, and the broker's CPU seconds (user+sys from /proc) per million records
#   LOADGEN=rdkafka scripts/broker-bench.sh   the load from librdkafka instead (the shared
#       bench's peer-rdkafka, ../shared/bench/peers-rs, built by its run.sh into
#       ~/.cache/kafka-bench-target or RDKAFKA_PEER): a lighter client than the JVM's, so on a
#       2-core box more of the CPU is left to the broker under test.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
N_100="${N_100:-1000000}"; N_1K="${N_1K:-300000}"; BROKERS="${BROKERS:-apache ours}"
REPEATS="${REPEATS:-3}"
LOADGEN="${LOADGEN:-java}"
RDKAFKA_PEER="${RDKAFKA_PEER:-$HOME/.cache/kafka-bench-target/release/peer-rdkafka}"
if [ "$LOADGEN" = rdkafka ] && [ ! -x "$RDKAFKA_PEER" ]; then
  echo "bench: LOADGEN=rdkafka needs $RDKAFKA_PEER (build ../shared/bench/peers-rs)"; exit 2
fi
out="$PWD/target/broker-bench"; rm -rf "$out"; mkdir -p "$out"
scripts/apache-kafka.sh fetch >/dev/null
CP="$(scripts/apache-kafka.sh classpath)"
java_tool() { java -Xmx512m -cp "$CP" "$@"; }

peak_rss_kb() { # pid -> samples VmRSS every 200 ms into a file until the pid's sampler is stopped
  local pid=$1 file=$2; echo 0 >"$file"
  while kill -0 "$pid" 2>/dev/null && [ ! -f "$file.stop" ]; do
    local r; r=$(awk '/VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "${r:-0}" -gt "$(cat "$file")" ] && echo "$r" >"$file"
    sleep 0.2
  done
}

start_ours() {
  cargo build --quiet --release --locked -p kafka-broker
  local dir="$out/ours"; mkdir -p "$dir/data"
  local port; port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  printf 'listeners=PLAINTEXT://127.0.0.1:%s\nlog.dirs=%s\nnum.partitions=6\n' "$port" "$dir/data" >"$dir/server.properties"
  target/release/kafka-broker --config "$dir/server.properties" >"$dir/broker.log" 2>&1 &
  BROKER_PID=$!; BOOTSTRAP="127.0.0.1:$port"
  for _ in $(seq 1 100); do python3 scripts/kafka-probe.py probe "$BOOTSTRAP" --timeout 1 >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "bench: our broker did not start"; tail "$dir/broker.log"; exit 1
}
start_apache() {
  scripts/apache-kafka.sh start --dir "$out/apache" >/dev/null
  BROKER_PID="$(cat "$out/apache/kafka.pid")"; BOOTSTRAP="$(cat "$out/apache/bootstrap")"
}
stop_broker() {
  if [ "$1" = apache ]; then scripts/apache-kafka.sh stop --dir "$out/apache" >/dev/null 2>&1 || true
  else kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; fi
}

broker_cpu_cs() { # utime + stime of the broker process, in clock ticks (1/100 s)
  awk '{print $14 + $15}' "/proc/$BROKER_PID/stat" 2>/dev/null || echo 0
}
results="$out/results.tsv"; : >"$results"
for b in $BROKERS; do
  "start_$b"
  trap 'stop_broker '"$b" EXIT
  for spec in $(for sz in "100:$N_100" "1024:$N_1K"; do for r in $(seq 1 "$REPEATS"); do echo "$sz:$r"; done; done); do
    IFS=: read -r size n rep <<<"$spec"; topic="bench-$size-$rep-$$"
    java_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --create --topic "$topic" \
      --partitions 6 --replication-factor 1 >/dev/null
    settle
    rss="$out/$b-$size-$rep.rss"; rm -f "$rss.stop"
    peak_rss_kb "$BROKER_PID" "$rss" & sampler=$!
    cpu0="$(broker_cpu_cs)"
    if [ "$LOADGEN" = rdkafka ]; then
      # peer-rdkafka's JSON line, rewritten in the Java tool's words for the parser below.
      line="$("$RDKAFKA_PEER" --bootstrap "$BOOTSTRAP" --topic "$topic" --records "$n" --size "$size" \
        --acks all --mode produce --partitions 6 --timeout-s 240 2>"$out/$b-$size-$rep.err" | grep '^{' | tail -1 \
        | python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print("%s records sent, %s records/sec (%s MB/sec), %d ms 99th (librdkafka)" % (r["records"], r["records_per_s"], r["mb_per_s"], round(r["p99_ms"])))')"
    else
      line="$(java_tool org.apache.kafka.tools.ProducerPerformance --bootstrap-server "$BOOTSTRAP" --topic "$topic" \
        --num-records "$n" --record-size "$size" --throughput -1 \
        --command-property acks=all linger.ms=5 batch.size=262144 buffer.memory=134217728 2>"$out/$b-$size-$rep.err" | tail -1)"
    fi
    cpu_cs=$(( $(broker_cpu_cs) - cpu0 ))
    touch "$rss.stop"; wait "$sampler" 2>/dev/null || true
    echo "bench: $b $size B (run $rep): $line; broker CPU ${cpu_cs}0 ms"
    # "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency, p50 ms 50th, p95 ms 95th, p99 ms 99th, p999 ms 99.9th."
    python3 - "$b" "$size" "$line" "$(cat "$rss")" "$cpu_cs" "$n" >>"$results" <<'PY'
import re, sys
b, size, line, rss, cpu_cs, n = sys.argv[1:7]
m = re.search(r"([\d.]+) records/sec \(([\d.]+) MB/sec\).*?(\d+) ms 99th", line)
if not m:
    sys.exit(f"unparsed perf output: {line}")
cpu_per_m = int(cpu_cs) / 100 / int(n) * 1e6
print(f"{b}\t{size}\t{m.group(1)}\t{m.group(2)}\t{m.group(3)}\t{int(rss)//1024}\t{cpu_per_m:.2f}")
PY
  done
  stop_broker "$b"; trap - EXIT
  rm -rf "$out/$b/data" # its unwritten pages are dropped, not written back during the next broker's runs
done
python3 - "$results" "$REPEATS" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
print(f"medians of {sys.argv[2]} runs")
print(f"{'broker':<8}{'size':>6}{'records/s':>14}{'MB/s':>9}{'p99 ms':>9}{'RSS MiB':>9}{'CPU s/1M':>10}   runs (records/s)")
med = {}
for key in dict.fromkeys((r[0], r[1]) for r in rows):
    rs = [r for r in rows if (r[0], r[1]) == key]
    rate, mbs, p99, cpu = (statistics.median(float(r[i]) for r in rs) for i in (2, 3, 4, 6))
    rss = max(int(r[5]) for r in rs)  # the peak over the runs
    med[key] = (rate, p99, rss)
    runs = ", ".join(f"{float(r[2]):,.0f}" for r in rs)
    print(f"{key[0]:<8}{key[1]:>6}{rate:>14,.0f}{mbs:>9.1f}{p99:>9.0f}{rss:>9}{cpu:>10.2f}   {runs}")
for size in sorted({k[1] for k in med}, key=int):
    o, a = med.get(("ours", size)), med.get(("apache", size))
    if o and a:
        print(f"ratio ours/apache, {size} B: throughput x{o[0]/a[0]:.2f}, "
              f"p99 x{o[1]/max(a[1], 1):.2f}, RSS x{o[2]/max(a[2], 1):.2f}")
PY
