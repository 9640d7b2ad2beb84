#!/usr/bin/env python3
"""librdkafka producer peer for scripts/producer-bench.sh (confluent-kafka from PyPI).

  rdkafka_perf.py --bootstrap H:P --topic T --records N --size B [--acks all|1|0]
                  [--batch-size B] [--linger-ms L] [--timeout-s S]

Prints one JSON line (../shared/bench/README.md format): client, mode, records, bytes, size,
acks, seconds, records_per_s, mb_per_s (MiB/s), p50_ms, p99_ms. The topic must exist (the
driver pre-creates it). Same settings as the other peers: linger.ms=5, batch.size,
compression none, idempotence on iff acks=all, keyless records; the local queue is raised to
1,000,000 messages as in ../shared/bench/peers-rs/peer-rdkafka.

Timing: starts after one warm-up record is acknowledged (connect, metadata and the producer
id excluded), ends when flush() returns. Latency per record: time.perf_counter() at
produce() to its delivery callback (served by poll(0) in the loop and by flush at the end).

NOTE: this is the librdkafka peer available from PyPI here, so the numbers include Python's
per-call overhead (produce(), the per-record callback and its closure, poll(0)); librdkafka's
own C threads do the batching and I/O. Treat it as "librdkafka driven from Python", a lower
bound for librdkafka from C or Rust (see ../shared/bench for rdkafka via Rust).
"""
import argparse
import functools
import json
import sys
import time

from confluent_kafka import KafkaException, Producer


def fail(msg):
    print(f"[rdkafka] FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def percentile_ms(sorted_s, p):
    if not sorted_s:
        return None
    rank = -(-p * len(sorted_s) // 100)  # ceil, nearest-rank as the Rust peers
    idx = min(max(int(rank), 1), len(sorted_s)) - 1
    return round(sorted_s[idx] * 1000.0, 3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--records", type=int, required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--acks", default="all")
    ap.add_argument("--batch-size", type=int, default=1_000_000)
    ap.add_argument("--linger-ms", type=int, default=5)
    ap.add_argument("--timeout-s", type=float, default=300)
    ap.add_argument("--mode", default="produce", choices=["produce", "consume"])
    ap.add_argument("--partitions", type=int, default=6)  # accepted; the driver creates the topic
    a = ap.parse_args()
    if a.mode == "consume":
        return consume(a)
    acks = "all" if a.acks in ("all", "-1") else a.acks

    errors = []

    def on_error(err):
        print(f"[rdkafka] client error: {err}", file=sys.stderr)

    p = Producer({
        "bootstrap.servers": a.bootstrap,
        "acks": acks,
        "enable.idempotence": acks == "all",
        "linger.ms": a.linger_ms,
        "batch.size": a.batch_size,
        "compression.type": "none",
        "queue.buffering.max.messages": 1_000_000,
        "client.id": "rdkafka-perf",
        "error_cb": on_error,
    })
    payload = bytes(ord("a") + (i % 23) for i in range(a.size))
    deadline = time.monotonic() + a.timeout_s

    # Warm-up: metadata, connections, producer id.
    warm = []
    p.produce(a.topic, payload, on_delivery=lambda err, msg: warm.append(err))
    while not warm:
        p.poll(0.05)
        if time.monotonic() > deadline:
            fail("timed out waiting for the warm-up record")
    if warm[0] is not None:
        fail(f"warm-up record: {warm[0]}")

    n = a.records
    lat = []  # seconds, one per acknowledged record
    lat_append = lat.append
    perf = time.perf_counter

    def delivered(sent, err, msg):
        if err is None:
            lat_append(perf() - sent)
        else:
            if not errors:
                print(f"[rdkafka] record failed: {err}", file=sys.stderr)
            errors.append(err)

    produce = p.produce
    poll = p.poll
    topic = a.topic
    partial = functools.partial
    start = perf()
    for _ in range(n):
        while True:
            try:
                produce(topic, payload, on_delivery=partial(delivered, perf()))
                break
            except BufferError:  # local queue full: serve callbacks, retry
                poll(0.001)
                if time.monotonic() > deadline:
                    fail("timed out while the local queue was full")
        poll(0)
    remaining = p.flush(max(deadline - time.monotonic(), 0.1))
    seconds = perf() - start
    if remaining:
        fail(f"timed out: {remaining} records not delivered")
    if errors:
        fail(f"{len(errors)} records failed")
    lat.sort()
    nbytes = n * a.size
    print(json.dumps(dict(
        client="rdkafka", mode="produce", records=n, bytes=nbytes, size=a.size, acks=acks,
        seconds=round(seconds, 4), records_per_s=round(n / seconds, 1),
        mb_per_s=round(nbytes / (1024 * 1024) / seconds, 3),
        p50_ms=percentile_ms(lat, 50), p99_ms=percentile_ms(lat, 99))), flush=True)


def consume(a):
    """Reads --records records of the topic from the beginning: every partition assigned (no
    group), librdkafka's default fetch settings, batches of up to 10,000 messages per
    consume() call (Python touches each message once, to count it). Timed from the first record
    to the N-th."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({
        "bootstrap.servers": a.bootstrap,
        "group.id": "rdkafka-perf-unused",  # required by the client; no subscribe, no commits
        "enable.auto.commit": False,
        "client.id": "rdkafka-perf",
    })
    md = c.list_topics(a.topic, timeout=30)
    parts = md.topics[a.topic].partitions
    if not parts:
        fail(f"topic {a.topic} has no partitions")
    c.assign([TopicPartition(a.topic, p, -2) for p in parts])  # -2: OFFSET_BEGINNING
    deadline = time.monotonic() + a.timeout_s
    n, got, nbytes, start = a.records, 0, 0, None
    perf = time.perf_counter
    while got < n:
        if time.monotonic() > deadline:
            fail(f"timed out with {got} of {n} records")
        msgs = c.consume(num_messages=min(10_000, n - got), timeout=1.0)
        for m in msgs:
            if m.error():
                fail(f"consume: {m.error()}")
            if start is None:
                start = perf()
            nbytes += len(m.value() or b"")
        got += len(msgs)
    seconds = perf() - start
    c.close()
    print(json.dumps(dict(
        client="rdkafka", mode="consume", records=n, bytes=nbytes, size=a.size, acks="-",
        seconds=round(seconds, 4), records_per_s=round(n / seconds, 1),
        mb_per_s=round(nbytes / (1024 * 1024) / seconds, 3), p50_ms=None, p99_ms=None)),
        flush=True)


if __name__ == "__main__":
    try:
        main()
    except KafkaException as e:
        fail(e)
