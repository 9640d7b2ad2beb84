#!/usr/bin/env python3
"""Peer: kafka-python (pure Python client) against a Kafka bootstrap server."""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from peerlib import PARTITIONS, Reporter, expected, verify  # noqa: E402

from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka.admin import KafkaAdminClient  # noqa: E402

PEER = "python-kafka"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--records", type=int, default=100)
    ap.add_argument("--group")
    a = ap.parse_args()
    group = a.group or a.topic + "-group"
    n = a.records
    rep = Reporter(PEER)
    common = {"bootstrap_servers": a.bootstrap, "request_timeout_ms": 30000}
    state = {}
    produced = {}

    def admin():
        if "admin" not in state:
            state["admin"] = KafkaAdminClient(**common)
        return state["admin"]

    def metadata():
        cl = admin().describe_cluster()
        if not cl.get("brokers"):
            raise AssertionError("no brokers: %r" % cl)
        return "cluster_id=%s brokers=%s controller=%s" % (
            cl.get("cluster_id"), sorted(b["broker_id"] for b in cl["brokers"]), cl.get("controller_id"))

    def create_topic():
        admin().create_topics({a.topic: {"num_partitions": PARTITIONS, "replication_factor": 1}},
                              timeout_ms=30000)
        admin().wait_for_topics([a.topic], timeout_ms=30000)
        parts = admin().describe_topics([a.topic])[0]["partitions"]
        if len(parts) != PARTITIONS:
            raise AssertionError("topic has %d partitions" % len(parts))
        return "%d partitions with leaders" % PARTITIONS

    def produce():
        p = KafkaProducer(acks="all", enable_idempotence=True, linger_ms=5, **common)
        try:
            futs = []
            for i in range(n):
                k, v, h = expected(PEER, i)
                futs.append((i, p.send(a.topic, key=k, value=v, headers=h)))
            p.flush(timeout=45)
            for i, f in futs:
                md = f.get(timeout=30)
                produced[i] = (md.partition, md.offset)
        finally:
            p.close(timeout=10)
        return "%d records acked (idempotent, acks=all)" % n

    def poll_n(c, want):
        out = []
        deadline = time.monotonic() + 45
        while len(out) < want and time.monotonic() < deadline:
            for tp, msgs in c.poll(timeout_ms=1000).items():
                for m in msgs:
                    out.append((m.partition, m.offset, m.key, m.value, m.headers))
        return out

    def partitions():
        return sorted(p["partition_index"] for p in admin().describe_topics([a.topic])[0]["partitions"])

    def consume():
        c = KafkaConsumer(group_id=None, enable_auto_commit=False, **common)
        try:
            tps = [TopicPartition(a.topic, p) for p in partitions()]
            c.assign(tps)
            c.seek_to_beginning(*tps)
            recs = poll_n(c, n)
        finally:
            c.close()
        return verify(PEER, recs, n, produced)

    def group_consume():
        c = KafkaConsumer(a.topic, group_id=group, enable_auto_commit=False,
                          auto_offset_reset="earliest", session_timeout_ms=10000, **common)
        state["consumer"] = c
        detail = verify(PEER, poll_n(c, n), n, produced)
        c.commit()
        return detail + "; committed"

    def committed_offset():
        c = state["consumer"]
        try:
            total = sum((c.committed(TopicPartition(a.topic, p)) or 0) for p in partitions())
        finally:
            c.close()
        if total != n:
            raise AssertionError("consumer.committed sums to %d, want %d" % (total, n))
        offs = admin().list_group_offsets({group: None})[group]
        total2 = sum(om.offset for tp, om in offs.items() if tp.topic == a.topic)
        if total2 != n:
            raise AssertionError("admin offsets sum to %d, want %d" % (total2, n))
        return "committed offsets sum to %d (consumer.committed and admin)" % n

    def delete_topic():
        admin().delete_topics([a.topic], timeout_ms=30000)
        return "deleted"

    try:
        rep.run("metadata", metadata)
        rep.run("create_topic", create_topic)
        if rep.run("produce", produce):
            rep.run("consume", consume)
            if rep.run("group_consume", group_consume):
                rep.run("committed_offset", committed_offset)
            else:
                rep.skip_failed(["committed_offset"], "group_consume failed")
        else:
            rep.skip_failed(["consume", "group_consume", "committed_offset"], "produce failed")
        rep.run("delete_topic", delete_topic)
    finally:
        if "admin" in state:
            state["admin"].close()
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
