#!/usr/bin/env bash
# Peer: kcat (librdkafka CLI) against a Kafka bootstrap server.
# kcat has no admin API: create_topic/delete_topic are reported as skipped and
# the topic is auto-created by the producer's metadata request (1 partition with
# the broker's num.partitions=1). Headers are per-invocation in kcat, so every
# record carries the same headers (peer=kcat, suite=kafka-suite).
# committed_offset: kcat cannot read group offsets, so it re-joins the group
# with the same group id and checks that nothing is redelivered. (No -o in
# group mode: kcat would assign that offset and override the committed one.)
set -uo pipefail

PEER=kcat
BOOTSTRAP="" TOPIC="" N=100 GROUP=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bootstrap) BOOTSTRAP="$2"; shift 2 ;;
    --topic) TOPIC="$2"; shift 2 ;;
    --records) N="$2"; shift 2 ;;
    --group) GROUP="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n "$BOOTSTRAP" && -n "$TOPIC" ]] || { echo "usage: $0 --bootstrap H:P --topic T [--records N] [--group G]" >&2; exit 2; }
GROUP="${GROUP:-$TOPIC-group}"
CASE_TIMEOUT=60
FAILED=0
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

emit() { # case ok detail [skipped]
  python3 -c 'import json,sys; r={"peer":sys.argv[1],"case":sys.argv[2],"ok":sys.argv[3]=="true","detail":sys.argv[4][:500]}
if len(sys.argv)>5: r["skipped"]=True
print(json.dumps(r), flush=True)' "$PEER" "$1" "$2" "$3" ${4:+skipped}
  [[ "$2" == true ]] || FAILED=1
}

KC=(kcat -b "$BOOTSTRAP" -X socket.timeout.ms=10000)

# verify FILE: kcat -J lines -> checks content and per-partition order.
verify() {
  python3 - "$1" "$N" <<'PY'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
recs = [json.loads(l) for l in open(path) if l.startswith("{")]
if len(recs) != n:
    print("got %d records, want %d" % (len(recs), n)); sys.exit(1)
seen, last = set(), {}
for r in recs:
    i = int(r["key"].split("-")[1])
    if i in seen: print("duplicate %d" % i); sys.exit(1)
    seen.add(i)
    if r["payload"] != "value-%d" % i: print("record %d payload %r" % (i, r["payload"])); sys.exit(1)
    if r.get("headers") != ["peer", "kcat", "suite", "kafka-suite"]:
        print("record %d headers %r" % (i, r.get("headers"))); sys.exit(1)
    p = r["partition"]
    if p in last and i <= last[p]: print("partition %d out of order" % p); sys.exit(1)
    last[p] = i
print("%d records over %d partition(s), content and order ok" % (n, len(last)))
PY
}

# metadata
if out="$(timeout "$CASE_TIMEOUT" "${KC[@]}" -L -J 2>"$WORK/md.err")" &&
   detail="$(python3 -c 'import json,sys; m=json.loads(sys.argv[1]); b=[x["id"] for x in m["brokers"]]; assert b, "no brokers"; print("brokers=%s" % b)' "$out" 2>&1)"; then
  emit metadata true "$detail"
else
  emit metadata false "$(tail -c 300 "$WORK/md.err") ${detail:-}"
fi

emit create_topic true "kcat has no admin API; topic auto-created by produce" skipped

# produce
for ((i = 0; i < N; i++)); do echo "key-$i:value-$i"; done >"$WORK/in.txt"
if timeout "$CASE_TIMEOUT" "${KC[@]}" -P -t "$TOPIC" -K: -H peer=kcat -H suite=kafka-suite \
     -X acks=all -X enable.idempotence=true -X topic.partitioner=murmur2_random \
     <"$WORK/in.txt" 2>"$WORK/produce.err" && ! grep -qi "fail\|error" "$WORK/produce.err"; then
  emit produce true "$N records (idempotent, acks=all)"
  produced=1
else
  emit produce false "$(tail -c 300 "$WORK/produce.err")"
  produced=0
fi

if ((produced)); then
  # consume (no group, all partitions from the beginning, exit at end)
  if timeout "$CASE_TIMEOUT" "${KC[@]}" -C -t "$TOPIC" -o beginning -e -J -q >"$WORK/c.json" 2>"$WORK/c.err" &&
     detail="$(verify "$WORK/c.json")"; then
    emit consume true "$detail"
  else
    emit consume false "${detail:-} $(tail -c 300 "$WORK/c.err")"
  fi
  # group_consume: balanced consumer group, offsets committed on close
  if timeout "$CASE_TIMEOUT" "${KC[@]}" -G "$GROUP" -X auto.offset.reset=earliest -e -J -q \
       -X enable.auto.commit=true -X session.timeout.ms=10000 "$TOPIC" >"$WORK/g.json" 2>"$WORK/g.err" &&
     detail="$(verify "$WORK/g.json")"; then
    emit group_consume true "$detail; committed on close"
    # committed_offset: a new member of the same group gets nothing
    if timeout "$CASE_TIMEOUT" "${KC[@]}" -G "$GROUP" -X auto.offset.reset=earliest -e -J -q "$TOPIC" >"$WORK/g2.json" 2>"$WORK/g2.err"; then
      again="$(grep -c '^{' "$WORK/g2.json" || true)"
      if [[ "$again" == 0 ]]; then
        emit committed_offset true "rejoining group $GROUP redelivered 0 records"
      else
        emit committed_offset false "rejoining group redelivered $again records"
      fi
    else
      emit committed_offset false "rejoin failed: $(tail -c 300 "$WORK/g2.err")"
    fi
  else
    emit group_consume false "${detail:-} $(tail -c 300 "$WORK/g.err")"
    emit committed_offset false "not run: group_consume failed"
  fi
else
  for c in consume group_consume committed_offset; do emit "$c" false "not run: produce failed"; done
fi

emit delete_topic true "kcat has no admin API" skipped
exit "$FAILED"
