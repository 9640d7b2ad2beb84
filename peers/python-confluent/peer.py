#!/usr/bin/env python3
"""Peer: confluent-kafka (librdkafka) against a Kafka bootstrap server."""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from peerlib import PARTITIONS, Reporter, expected, verify  # noqa: E402

from confluent_kafka import (Consumer, ConsumerGroupTopicPartitions, KafkaError,  # noqa: E402
                             KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

PEER = "python-confluent"


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
    base = {"bootstrap.servers": a.bootstrap, "socket.timeout.ms": 10000}
    admin = AdminClient(dict(base))
    produced = {}
    state = {}

    def metadata():
        md = admin.list_topics(timeout=15)
        if not md.brokers:
            raise AssertionError("no brokers")
        return "cluster_id=%s brokers=%s controller=%s" % (
            md.cluster_id, sorted(b.id for b in md.brokers.values()), md.controller_id)

    def partitions():
        return sorted(admin.list_topics(topic=a.topic, timeout=10).topics[a.topic].partitions)

    def create_topic():
        fs = admin.create_topics([NewTopic(a.topic, num_partitions=PARTITIONS, replication_factor=1)],
                                 operation_timeout=30, request_timeout=30)
        fs[a.topic].result(timeout=30)
        for _ in range(100):
            t = admin.list_topics(topic=a.topic, timeout=10).topics.get(a.topic)
            if t and t.error is None and len(t.partitions) == PARTITIONS and all(
                    p.leader >= 0 for p in t.partitions.values()):
                return "%d partitions with leaders" % PARTITIONS
            time.sleep(0.2)
        raise AssertionError("topic metadata not ready")

    def produce():
        p = Producer(dict(base, **{"enable.idempotence": True, "acks": "all", "linger.ms": 5}))
        errors = []

        def cb(err, msg):
            if err is not None:
                errors.append(str(err))
            else:
                produced[int(msg.key().decode().split("-")[1])] = (msg.partition(), msg.offset())

        for i in range(n):
            k, v, h = expected(PEER, i)
            p.produce(a.topic, key=k, value=v, headers=h, on_delivery=cb)
            p.poll(0)
        left = p.flush(45)
        if left or errors:
            raise AssertionError("undelivered=%d errors=%s" % (left, errors[:3]))
        if len(produced) != n:
            raise AssertionError("acked %d of %d" % (len(produced), n))
        return "%d records acked (idempotent, acks=all)" % n

    def poll_n(c, want):
        out = []
        deadline = time.monotonic() + 45
        while len(out) < want and time.monotonic() < deadline:
            m = c.poll(1.0)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError("consume error: %s" % m.error())
            out.append((m.partition(), m.offset(), m.key(), m.value(), m.headers()))
        return out

    def consume():
        c = Consumer(dict(base, **{"group.id": group + "-assign", "enable.auto.commit": False}))
        try:
            c.assign([TopicPartition(a.topic, p, -2) for p in partitions()])  # -2 = beginning
            recs = poll_n(c, n)
        finally:
            c.close()
        return verify(PEER, recs, n, produced)

    def group_consume():
        c = Consumer(dict(base, **{"group.id": group, "enable.auto.commit": False,
                                   "auto.offset.reset": "earliest", "session.timeout.ms": 10000}))
        state["consumer"] = c
        c.subscribe([a.topic])
        detail = verify(PEER, poll_n(c, n), n, produced)
        c.commit(asynchronous=False)
        return detail + "; committed"

    def committed_offset():
        c = state["consumer"]
        try:
            got = c.committed([TopicPartition(a.topic, p) for p in partitions()], timeout=15)
            total = sum(tp.offset for tp in got if tp.offset >= 0)
        finally:
            c.close()
        if total != n:
            raise AssertionError("consumer.committed sums to %d, want %d" % (total, n))
        res = admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group)])[group].result(timeout=15)
        total2 = sum(tp.offset for tp in res.topic_partitions if tp.topic == a.topic and tp.offset >= 0)
        if total2 != n:
            raise AssertionError("admin offsets sum to %d, want %d" % (total2, n))
        return "committed offsets sum to %d (consumer.committed and admin)" % n

    def transactions():
        """A committed transaction (10 records + offset 42 for group G-txn), an aborted one
        (5 records), fencing by a second instance; read_committed then sees only the n plain and
        the 10 committed records (as the Java peer's case)."""
        txn_id = a.topic + "-txn"
        g = group + "-txn"

        def txn_producer():
            return Producer(dict(base, **{"transactional.id": txn_id, "transaction.timeout.ms": 60000}))

        def txn_records(p, prefix, k):
            for i in range(k):
                p.produce(a.topic, key=b"txn-key-%d" % i, value=b"%s%d" % (prefix, i),
                          partition=i % PARTITIONS)

        p = txn_producer()
        p.init_transactions(30)
        p.begin_transaction()
        txn_records(p, b"txn-commit-", 10)
        meta_consumer = Consumer(dict(base, **{"group.id": g, "enable.auto.commit": False}))
        try:
            gm = meta_consumer.consumer_group_metadata()
        finally:
            meta_consumer.close()
        p.send_offsets_to_transaction([TopicPartition(a.topic, 0, 42)], gm, 30)
        p.commit_transaction(30)
        p.begin_transaction()
        txn_records(p, b"txn-abort-", 5)
        p.flush(30)
        p.abort_transaction(30)
        other = txn_producer()
        other.init_transactions(30)  # bumps the epoch: the first instance is a zombie now
        fenced = None
        try:
            p.begin_transaction()
            p.produce(a.topic, key=b"zombie", value=b"txn-zombie", partition=0)
            p.commit_transaction(30)
        except KafkaException as e:
            err = e.args[0]
            if err.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                              KafkaError.INVALID_PRODUCER_EPOCH) or err.fatal():
                fenced = err
            else:
                raise
        if fenced is None:
            raise AssertionError("the old producer was not fenced")
        del other
        res = admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(g, [TopicPartition(a.topic, 0)])])[g].result(timeout=15)
        got = [tp.offset for tp in res.topic_partitions if tp.topic == a.topic and tp.partition == 0]
        if got != [42]:
            raise AssertionError("transactional offset of %s is %s, want 42" % (g, got))
        c = Consumer(dict(base, **{"group.id": group + "-rc", "enable.auto.commit": False,
                                   "isolation.level": "read_committed",
                                   "enable.partition.eof": True}))
        commits = plain = 0
        try:
            parts = partitions()
            c.assign([TopicPartition(a.topic, q, -2) for q in parts])
            at_eof = set()
            deadline = time.monotonic() + 45
            while time.monotonic() < deadline and (len(at_eof) < len(parts) or commits + plain < n + 10):
                m = c.poll(1.0)
                if m is None:
                    continue
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        at_eof.add(m.partition())
                        continue
                    raise AssertionError("consume error: %s" % m.error())
                at_eof.discard(m.partition())
                v = m.value() or b""
                if v.startswith(b"txn-commit-"):
                    commits += 1
                elif v.startswith(b"txn-"):
                    raise AssertionError("read_committed returned %r" % v)
                else:
                    plain += 1
        finally:
            c.close()
        if commits != 10 or plain != n:
            raise AssertionError("read_committed: %d committed and %d plain records, want 10 and %d"
                                 % (commits, plain, n))
        return ("commit (10 records + offset 42 for %s), abort (5 records), fencing (%s); "
                "read_committed sees %d plain + 10 committed" % (g, fenced.name(), n))

    def delete_topic():
        admin.delete_topics([a.topic], operation_timeout=30)[a.topic].result(timeout=30)
        return "deleted"

    rep.run("metadata", metadata)
    rep.run("create_topic", create_topic)
    if rep.run("produce", produce):
        rep.run("consume", consume)
        if rep.run("group_consume", group_consume):
            rep.run("committed_offset", committed_offset)
        else:
            rep.skip_failed(["committed_offset"], "group_consume failed")
        rep.run("transactions", transactions)
    else:
        rep.skip_failed(["consume", "group_consume", "committed_offset", "transactions"],
                        "produce failed")
    rep.run("delete_topic", delete_topic)
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
