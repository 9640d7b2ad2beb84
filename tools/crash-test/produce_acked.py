"""Produces with acks=all (idempotent) as fast as librdkafka allows and appends every
ACKNOWLEDGED record (partition offset value) to a file, flushing it per callback batch.
Stops after --seconds or when the broker stops acknowledging for --stall seconds."""
import argparse, sys, time
from confluent_kafka import Producer

ap = argparse.ArgumentParser()
ap.add_argument("--bootstrap", required=True)
ap.add_argument("--topic", required=True)
ap.add_argument("--acked", required=True)
ap.add_argument("--seconds", type=float, default=30)
ap.add_argument("--stall", type=float, default=3)
ap.add_argument("--prefix", default="r")
a = ap.parse_args()

out = open(a.acked, "a", buffering=1)
last_ack = [time.time()]
acked = [0]
failed = [0]

def on_delivery(err, msg):
    if err is not None:
        failed[0] += 1
        return
    out.write(f"{msg.partition()} {msg.offset()} {msg.value().decode()}\n")
    acked[0] += 1
    last_ack[0] = time.time()

p = Producer({
    "bootstrap.servers": a.bootstrap,
    "acks": "all",
    "enable.idempotence": True,
    "linger.ms": 2,
    "message.timeout.ms": 5000,
    "request.timeout.ms": 3000,
    "reconnect.backoff.max.ms": 500,
})
deadline = time.time() + a.seconds
i = 0
while time.time() < deadline:
    try:
        p.produce(a.topic, key=str(i % 97).encode(), value=f"{a.prefix}-{i}".encode(), on_delivery=on_delivery)
        i += 1
    except BufferError:
        p.poll(0.05)
    p.poll(0)
    if time.time() - last_ack[0] > a.stall and i > 0:
        break
p.flush(10)
out.close()
print(f"produced {i} acked {acked[0]} failed {failed[0]}", file=sys.stderr)
