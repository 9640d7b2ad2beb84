"""Reads the whole topic from the beginning and checks that every acknowledged record listed in
the acked file is present at its partition and offset with its value. Prints one JSON line."""
import argparse, json, sys, time
from confluent_kafka import Consumer, TopicPartition

ap = argparse.ArgumentParser()
ap.add_argument("--bootstrap", required=True)
ap.add_argument("--topic", required=True)
ap.add_argument("--acked", required=True)
ap.add_argument("--timeout", type=float, default=60)
a = ap.parse_args()

acked = {}
with open(a.acked) as f:
    for line in f:
        parts = line.split(" ", 2)
        if len(parts) == 3:
            acked[(int(parts[0]), int(parts[1]))] = parts[2].rstrip("\n")

c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": "crash-verify", "enable.auto.commit": False,
              "auto.offset.reset": "earliest", "enable.partition.eof": True})
md = c.list_topics(a.topic, timeout=30)
parts = sorted(md.topics[a.topic].partitions.keys())
ends = {}
for p in parts:
    lo, hi = c.get_watermark_offsets(TopicPartition(a.topic, p), timeout=30)
    ends[p] = hi
c.assign([TopicPartition(a.topic, p, 0) for p in parts])
seen = {}
done = set(p for p in parts if ends[p] == 0)
deadline = time.time() + a.timeout
while len(done) < len(parts) and time.time() < deadline:
    m = c.poll(1.0)
    if m is None:
        continue
    if m.error():
        if m.error().code() == -191:  # partition EOF
            done.add(m.partition())
        continue
    seen[(m.partition(), m.offset())] = m.value().decode()
    if m.offset() + 1 >= ends[m.partition()]:
        done.add(m.partition())
c.close()
lost = [k for k in acked if k not in seen]
wrong = [k for k in acked if k in seen and seen[k] != acked[k]]
print(json.dumps({"acked": len(acked), "present": len(acked) - len(lost), "lost": len(lost),
                  "wrong_value": len(wrong), "log_records": len(seen), "complete": len(done) == len(parts)}))
sys.exit(0 if not lost and not wrong and len(done) == len(parts) else 1)
