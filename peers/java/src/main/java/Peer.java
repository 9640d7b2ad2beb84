// Peer: the official Java client (kafka-clients) against a Kafka bootstrap server.

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class Peer {
    static final String PEER = "java";
    static final long CASE_TIMEOUT_S = 60;
    static final int PARTITIONS = 3;

    static {
        // slf4j-simple: warnings and errors only, on stderr.
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
    }

    static boolean failed = false;
    static String bootstrap, topic, group;
    static int n = 100;
    static final Map<Integer, long[]> produced = new HashMap<>();
    static final ExecutorService exec = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r);
        t.setDaemon(true);
        return t;
    });

    static String json(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c)); else b.append(c);
            }
        }
        return b.append('"').toString();
    }

    static void emit(String c, boolean ok, String detail) {
        if (detail.length() > 500) detail = detail.substring(0, 500);
        if (!ok) failed = true;
        System.out.println("{\"peer\":" + json(PEER) + ",\"case\":" + json(c) + ",\"ok\":" + ok
                + ",\"detail\":" + json(detail) + "}");
        System.out.flush();
    }

    static boolean runCase(String name, Callable<String> fn) {
        long t0 = System.nanoTime();
        Future<String> f = exec.submit(fn);
        try {
            String detail = f.get(CASE_TIMEOUT_S, TimeUnit.SECONDS);
            emit(name, true, String.format("%s (%.2fs)", detail, (System.nanoTime() - t0) / 1e9));
            return true;
        } catch (TimeoutException e) {
            f.cancel(true);
            emit(name, false, "case timed out after " + CASE_TIMEOUT_S + "s");
        } catch (Exception e) {
            Throwable c = e.getCause() != null ? e.getCause() : e;
            emit(name, false, c.getClass().getSimpleName() + ": " + c.getMessage());
        }
        return false;
    }

    static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }
    static String s(byte[] b) { return b == null ? null : new String(b, StandardCharsets.UTF_8); }

    static List<Header> expectedHeaders(int i) {
        return List.of(new RecordHeader("peer", b(PEER)), new RecordHeader("idx", b(Integer.toString(i))));
    }

    static Properties base() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 30000);
        return p;
    }

    static KafkaConsumer<byte[], byte[]> consumer(String groupId, String protocol) {
        Properties p = base();
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        if (groupId != null) p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        if (protocol != null) {
            p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
            if (protocol.equals("classic")) p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10000);
        }
        return new KafkaConsumer<>(p);
    }

    static List<ConsumerRecord<byte[], byte[]>> pollN(KafkaConsumer<byte[], byte[]> c, int want) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(45);
        while (out.size() < want && System.nanoTime() < deadline) {
            for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) out.add(r);
        }
        return out;
    }

    static String verify(List<ConsumerRecord<byte[], byte[]>> recs) {
        if (recs.size() != n) throw new AssertionError("got " + recs.size() + " records, want " + n);
        Set<Integer> seen = new HashSet<>();
        Map<Integer, Integer> last = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : recs) {
            int i = Integer.parseInt(s(r.key()).substring(4));
            if (!seen.add(i)) throw new AssertionError("duplicate record " + i);
            if (!s(r.key()).equals("key-" + i) || !s(r.value()).equals("value-" + i))
                throw new AssertionError("record " + i + ": " + s(r.key()) + "/" + s(r.value()));
            List<Header> hs = new ArrayList<>();
            r.headers().forEach(hs::add);
            List<Header> want = expectedHeaders(i);
            if (hs.size() != want.size()) throw new AssertionError("record " + i + ": " + hs.size() + " headers");
            for (int j = 0; j < want.size(); j++) {
                if (!hs.get(j).key().equals(want.get(j).key()) || !s(hs.get(j).value()).equals(s(want.get(j).value())))
                    throw new AssertionError("record " + i + ": header " + hs.get(j));
            }
            Integer l = last.get(r.partition());
            if (l != null && i <= l) throw new AssertionError("partition " + r.partition() + " out of order");
            last.put(r.partition(), i);
            long[] pos = produced.get(i);
            if (pos == null || pos[0] != r.partition() || pos[1] != r.offset())
                throw new AssertionError("record " + i + " at " + r.partition() + "/" + r.offset() + " differs from producer ack");
        }
        return n + " records over " + last.size() + " partition(s), content and order ok";
    }

    static List<TopicPartition> partitions(Admin admin) throws Exception {
        TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic);
        List<TopicPartition> tps = new ArrayList<>();
        for (TopicPartitionInfo p : d.partitions()) tps.add(new TopicPartition(topic, p.partition()));
        return tps;
    }

    static long sumCommitted(Map<TopicPartition, OffsetAndMetadata> m) {
        long t = 0;
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : m.entrySet())
            if (e.getKey().topic().equals(topic) && e.getValue() != null) t += e.getValue().offset();
        return t;
    }

    /** Subscribes in group g with the given protocol, verifies, commits, reads the commit back. */
    static String groupRound(Admin admin, String g, String protocol, KafkaConsumer<byte[], byte[]>[] keep) throws Exception {
        KafkaConsumer<byte[], byte[]> c = consumer(g, protocol);
        keep[0] = c;
        c.subscribe(List.of(topic));
        String detail = verify(pollN(c, n));
        c.commitSync(Duration.ofSeconds(30));
        return detail + "; committed (group.protocol=" + protocol + ")";
    }

    static String committedCheck(Admin admin, String g, KafkaConsumer<byte[], byte[]> c) throws Exception {
        try {
            long viaConsumer = sumCommitted(c.committed(new HashSet<>(partitions(admin)), Duration.ofSeconds(30)));
            if (viaConsumer != n) throw new AssertionError("consumer.committed sums to " + viaConsumer + ", want " + n);
        } finally {
            c.close(Duration.ofSeconds(10));
        }
        long viaAdmin = sumCommitted(admin.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS));
        if (viaAdmin != n) throw new AssertionError("admin offsets sum to " + viaAdmin + ", want " + n);
        return "committed offsets sum to " + n + " (consumer.committed and admin)";
    }

    static KafkaProducer<byte[], byte[]> txnProducer(String txnId) {
        Properties p = base();
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 45000);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 45000);
        return new KafkaProducer<>(p);
    }

    /**
     * Transactions (read_committed): after the plain records, one committed transaction of 10
     * records with offsets sent to group G-txn, one aborted transaction of 5 records, then a
     * second producer with the same transactional.id fences the first. A read_committed
     * consumer sees the N plain and the 10 committed records only; G-txn's offset is committed.
     */
    static String transactions(Admin admin) throws Exception {
        String txnId = topic + "-txn";
        String g = group + "-txn";
        TopicPartition tp0 = new TopicPartition(topic, 0);
        try (KafkaProducer<byte[], byte[]> prod = txnProducer(txnId)) {
            prod.initTransactions();
            prod.beginTransaction();
            for (int i = 0; i < 10; i++)
                prod.send(new ProducerRecord<>(topic, i % PARTITIONS, b("txn-key-" + i), b("txn-commit-" + i)));
            prod.sendOffsetsToTransaction(Map.of(tp0, new OffsetAndMetadata(42)), new ConsumerGroupMetadata(g));
            prod.commitTransaction();
            prod.beginTransaction();
            for (int i = 0; i < 5; i++)
                prod.send(new ProducerRecord<>(topic, i % PARTITIONS, b("txn-key-" + i), b("txn-abort-" + i)));
            prod.flush();
            prod.abortTransaction();
            // A second instance with the same transactional.id fences this one.
            try (KafkaProducer<byte[], byte[]> other = txnProducer(txnId)) {
                other.initTransactions();
                boolean fenced = false;
                try {
                    prod.beginTransaction();
                    prod.send(new ProducerRecord<>(topic, 0, b("zombie"), b("txn-zombie"))).get(30, TimeUnit.SECONDS);
                    prod.commitTransaction();
                } catch (ProducerFencedException | InvalidProducerEpochException e) {
                    fenced = true;
                } catch (java.util.concurrent.ExecutionException e) {
                    // Transaction version 1 (AddPartitionsToTxn) fences with PRODUCER_FENCED;
                    // version 2 (partitions added by Produce) with INVALID_PRODUCER_EPOCH.
                    fenced = e.getCause() instanceof ProducerFencedException
                            || e.getCause() instanceof InvalidProducerEpochException;
                    if (!fenced) throw e;
                }
                if (!fenced) throw new AssertionError("the old producer was not fenced");
            }
        }
        OffsetAndMetadata om = admin.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata()
                .get(30, TimeUnit.SECONDS).get(tp0);
        long committed = om == null ? -1 : om.offset();
        if (committed != 42) throw new AssertionError("transactional offset of " + g + " is " + committed + ", want 42");
        Properties p = base();
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> tps = partitions(admin);
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps, Duration.ofSeconds(30));
            List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(45);
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) got.add(r);
                boolean atEnd = true;
                for (TopicPartition tp : tps) atEnd &= c.position(tp) >= end.get(tp);
                if (atEnd) break;
            }
            int commits = 0, plain = 0;
            for (ConsumerRecord<byte[], byte[]> r : got) {
                String v = s(r.value());
                if (v.startsWith("txn-commit-")) commits++;
                else if (v.startsWith("txn-")) throw new AssertionError("read_committed returned " + v);
                else plain++;
            }
            if (commits != 10 || plain != n)
                throw new AssertionError("read_committed: " + commits + " committed and " + plain + " plain records, want 10 and " + n);
        }
        return "commit (10 records + offset 42 for " + g + "), abort (5 records), fencing; read_committed sees " + n + " plain + 10 committed";
    }

    @SuppressWarnings("unchecked")
    public static void main(String[] args) throws Exception {
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--bootstrap": bootstrap = args[i + 1]; break;
                case "--topic": topic = args[i + 1]; break;
                case "--records": n = Integer.parseInt(args[i + 1]); break;
                case "--group": group = args[i + 1]; break;
                default: System.err.println("unknown argument " + args[i]); System.exit(2);
            }
        }
        if (bootstrap == null || topic == null) {
            System.err.println("usage: Peer --bootstrap H:P --topic T [--records N] [--group G]");
            System.exit(2);
        }
        if (group == null) group = topic + "-group";

        try (Admin admin = Admin.create(base())) {
            runCase("metadata", () -> {
                DescribeClusterResult r = admin.describeCluster();
                Collection<Node> nodes = r.nodes().get(30, TimeUnit.SECONDS);
                if (nodes.isEmpty()) throw new AssertionError("no brokers");
                List<Integer> ids = new ArrayList<>();
                for (Node nd : nodes) ids.add(nd.id());
                return "cluster_id=" + r.clusterId().get(30, TimeUnit.SECONDS) + " brokers=" + ids
                        + " controller=" + r.controller().get(30, TimeUnit.SECONDS).id();
            });

            runCase("create_topic", () -> {
                admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1))).all().get(30, TimeUnit.SECONDS);
                for (int i = 0; i < 100; i++) {
                    try {
                        TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get(10, TimeUnit.SECONDS).get(topic);
                        if (d.partitions().size() == PARTITIONS && d.partitions().stream().allMatch(p -> p.leader() != null))
                            return PARTITIONS + " partitions with leaders";
                    } catch (Exception e) {
                        // not yet visible
                    }
                    Thread.sleep(200);
                }
                throw new AssertionError("topic metadata not ready");
            });

            boolean producedOk = runCase("produce", () -> {
                Properties p = base();
                p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
                p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
                p.put(ProducerConfig.ACKS_CONFIG, "all");
                p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
                p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
                p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 45000);
                try (KafkaProducer<byte[], byte[]> prod = new KafkaProducer<>(p)) {
                    List<Future<RecordMetadata>> fs = new ArrayList<>();
                    for (int i = 0; i < n; i++)
                        fs.add(prod.send(new ProducerRecord<>(topic, null, b("key-" + i), b("value-" + i), expectedHeaders(i))));
                    prod.flush();
                    for (int i = 0; i < n; i++) {
                        RecordMetadata md = fs.get(i).get(30, TimeUnit.SECONDS);
                        produced.put(i, new long[] {md.partition(), md.offset()});
                    }
                }
                return n + " records acked (idempotent, acks=all)";
            });

            if (producedOk) {
                runCase("consume", () -> {
                    try (KafkaConsumer<byte[], byte[]> c = consumer(null, null)) {
                        List<TopicPartition> tps = partitions(admin);
                        c.assign(tps);
                        c.seekToBeginning(tps);
                        return verify(pollN(c, n));
                    }
                });
                KafkaConsumer<byte[], byte[]>[] keep = new KafkaConsumer[1];
                if (runCase("group_consume", () -> groupRound(admin, group, "classic", keep))) {
                    runCase("committed_offset", () -> committedCheck(admin, group, keep[0]));
                } else {
                    if (keep[0] != null) keep[0].close(Duration.ofSeconds(5));
                    emit("committed_offset", false, "not run: group_consume failed");
                }
                // KIP-848 consumer group protocol (ConsumerGroupHeartbeat), new group.
                KafkaConsumer<byte[], byte[]>[] keep2 = new KafkaConsumer[1];
                String g2 = group + "-kip848";
                runCase("group_consume_kip848", () -> {
                    try {
                        String d = groupRound(admin, g2, "consumer", keep2);
                        return d + "; " + committedCheck(admin, g2, keep2[0]);
                    } finally {
                        if (keep2[0] != null) keep2[0].close(Duration.ofSeconds(5));
                    }
                });
                runCase("transactions", () -> transactions(admin));
            } else {
                for (String c : List.of("consume", "group_consume", "committed_offset", "group_consume_kip848", "transactions"))
                    emit(c, false, "not run: produce failed");
            }

            runCase("delete_topic", () -> {
                admin.deleteTopics(List.of(topic)).all().get(30, TimeUnit.SECONDS);
                return "deleted";
            });
        }
        System.exit(failed ? 1 : 0);
    }
}
