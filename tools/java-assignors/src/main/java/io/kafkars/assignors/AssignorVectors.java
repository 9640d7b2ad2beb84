package io.kafkars.assignors;

import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor.Assignment;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor.GroupSubscription;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor.Subscription;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.consumer.RoundRobinAssignor;
import org.apache.kafka.clients.consumer.StickyAssignor;
import org.apache.kafka.clients.consumer.internals.ConsumerProtocol;
import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * Runs Apache Kafka's classic partition assignors on deterministic generated scenarios and writes
 * their inputs and outputs as JSON fixtures (one file per assignor).
 *
 * Conventions the Rust side relies on:
 * - the group subscription handed to the assignor is a java.util.HashMap filled in member-id
 *   order (the "members" array of each case is in that order);
 * - a fresh assignor instance runs every case (AbstractStickyAssignor keeps maxGeneration
 *   between calls otherwise);
 * - partitions are written as Java's TopicPartition.toString() ("topic-partition"), lists in
 *   Java's order.
 */
public final class AssignorVectors {
    private static final String[] TOPIC_POOL = {
        "orders", "payments", "clicks", "events-v2", "logs", "metrics", "audit.trail", "users",
        "inventory", "shipments", "t", "a", "topic_with_a_longer_name_0001", "x-1", "billing", "sessions",
        "Aa", "BB"  // "Aa" and "BB" share String.hashCode()
    };

    private final Random rnd;

    private AssignorVectors(long seed) {
        this.rnd = new Random(seed);
    }

    /** One member of a simulated group. */
    private static final class Member {
        final String id;
        final String instanceId;
        List<String> topics;
        List<TopicPartition> owned = new ArrayList<>();
        int generation = -1;
        // previous (owned, generation) kept to simulate members that missed a rebalance
        List<TopicPartition> olderOwned = new ArrayList<>();
        int olderGeneration = -1;

        Member(String id, String instanceId, List<String> topics) {
            this.id = id;
            this.instanceId = instanceId;
            this.topics = topics;
        }
    }

    /** Per-case input in the shape the assignor receives. */
    private static final class MemberInput {
        final String id;
        final String instanceId;
        final List<String> topics;
        final List<TopicPartition> owned;
        final int generation;
        final byte[] userData;

        MemberInput(String id, String instanceId, List<String> topics, List<TopicPartition> owned, int generation, byte[] userData) {
            this.id = id;
            this.instanceId = instanceId;
            this.topics = topics;
            this.owned = owned;
            this.generation = generation;
            this.userData = userData;
        }
    }

    // ---------------------------------------------------------------------------------------
    // generation helpers

    private String memberId(int n) {
        switch (rnd.nextInt(4)) {
            case 0:
                return "c" + n;
            case 1:
                return "consumer-" + n + "-" + Integer.toHexString(rnd.nextInt(0x10000));
            case 2:
                return Long.toHexString(rnd.nextLong() & 0xffffffffffL);
            default:
                return "member-" + (char) ('a' + rnd.nextInt(26)) + rnd.nextInt(1000);
        }
    }

    private TreeMap<String, Integer> genTopics() {
        int n = 1 + rnd.nextInt(8);
        List<String> pool = new ArrayList<>(List.of(TOPIC_POOL));
        Collections.shuffle(pool, rnd);
        TreeMap<String, Integer> topics = new TreeMap<>();
        for (int i = 0; i < n; i++)
            topics.put(pool.get(i), 1 + rnd.nextInt(30));
        return topics;
    }

    private List<String> randomSubset(List<String> all) {
        List<String> copy = new ArrayList<>(all);
        Collections.shuffle(copy, rnd);
        int k = 1 + rnd.nextInt(copy.size());
        return new ArrayList<>(copy.subList(0, k));
    }

    /** Subscriptions: all equal, or random subsets; sometimes an unknown topic is included. */
    private List<String> genSubscription(TreeMap<String, Integer> topics, List<String> shared) {
        List<String> subs = shared != null ? new ArrayList<>(shared) : randomSubset(new ArrayList<>(topics.keySet()));
        if (shared == null && rnd.nextInt(8) == 0)
            subs.add("missing-topic");
        return subs;
    }

    private List<Member> genMembers(TreeMap<String, Integer> topics, boolean sameSubscription, int instanceMode) {
        int n = 1 + rnd.nextInt(10);
        List<String> shared = sameSubscription ? randomSubset(new ArrayList<>(topics.keySet())) : null;
        List<Member> members = new ArrayList<>();
        HashSet<String> ids = new HashSet<>();
        for (int i = 0; i < n; i++) {
            String id = memberId(i);
            if (!ids.add(id))
                continue;
            members.add(new Member(id, instanceId(instanceMode, i), genSubscription(topics, shared)));
        }
        return members;
    }

    private String instanceId(int instanceMode, int i) {
        // 0: none, 1: all static, 2: some static
        if (instanceMode == 1 || (instanceMode == 2 && rnd.nextBoolean()))
            return "instance-" + (char) ('a' + rnd.nextInt(26)) + i;
        return null;
    }

    private static Cluster cluster(Map<String, Integer> topics) {
        Node node = new Node(0, "localhost", 9092);
        Node[] nodes = {node};
        List<PartitionInfo> infos = new ArrayList<>();
        topics.forEach((topic, count) -> {
            for (int p = 0; p < count; p++)
                infos.add(new PartitionInfo(topic, p, node, nodes, nodes));
        });
        return new Cluster("cluster", List.of(node), infos, Collections.emptySet(), Collections.emptySet());
    }

    private static Map<String, List<TopicPartition>> run(Supplier<ConsumerPartitionAssignor> supplier,
                                                         Map<String, Integer> topics,
                                                         List<MemberInput> members) {
        Map<String, Subscription> subscriptions = new HashMap<>();
        for (MemberInput m : members) {
            Subscription s = new Subscription(m.topics, m.userData == null ? null : ByteBuffer.wrap(m.userData),
                m.owned, m.generation, Optional.empty());
            s.setGroupInstanceId(Optional.ofNullable(m.instanceId));
            subscriptions.put(m.id, s);
        }
        Map<String, Assignment> result = supplier.get().assign(cluster(topics), new GroupSubscription(subscriptions)).groupAssignment();
        Map<String, List<TopicPartition>> out = new TreeMap<>();
        result.forEach((k, v) -> out.put(k, v.partitions()));
        return out;
    }

    // ---------------------------------------------------------------------------------------
    // JSON

    private static String q(String s) {
        if (s == null)
            return "null";
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\')
                sb.append('\\').append(c);
            else if (c < 0x20)
                sb.append(String.format("\\u%04x", (int) c));
            else
                sb.append(c);
        }
        return sb.append('"').toString();
    }

    private static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b)
            sb.append(String.format("%02x", x));
        return sb.toString();
    }

    private static String tps(List<TopicPartition> list) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < list.size(); i++) {
            if (i > 0)
                sb.append(',');
            sb.append(q(list.get(i).toString()));
        }
        return sb.append(']').toString();
    }

    private static String caseJson(String name, Map<String, Integer> topics, List<MemberInput> members,
                                   Map<String, List<TopicPartition>> expected) {
        StringBuilder sb = new StringBuilder();
        sb.append("{\"name\":").append(q(name)).append(",\"topics\":{");
        boolean first = true;
        for (Map.Entry<String, Integer> e : topics.entrySet()) {
            if (!first)
                sb.append(',');
            first = false;
            sb.append(q(e.getKey())).append(':').append(e.getValue());
        }
        sb.append("},\"members\":[");
        for (int i = 0; i < members.size(); i++) {
            MemberInput m = members.get(i);
            if (i > 0)
                sb.append(',');
            sb.append("{\"id\":").append(q(m.id));
            if (m.instanceId != null)
                sb.append(",\"instance\":").append(q(m.instanceId));
            sb.append(",\"topics\":[");
            for (int j = 0; j < m.topics.size(); j++) {
                if (j > 0)
                    sb.append(',');
                sb.append(q(m.topics.get(j)));
            }
            sb.append(']');
            if (!m.owned.isEmpty())
                sb.append(",\"owned\":").append(tps(m.owned));
            if (m.generation >= 0)
                sb.append(",\"generation\":").append(m.generation);
            if (m.userData != null)
                sb.append(",\"user_data\":").append(q(hex(m.userData)));
            sb.append('}');
        }
        sb.append("],\"expected\":{");
        first = true;
        for (Map.Entry<String, List<TopicPartition>> e : expected.entrySet()) {
            if (!first)
                sb.append(',');
            first = false;
            sb.append(q(e.getKey())).append(':').append(tps(e.getValue()));
        }
        return sb.append("}}").toString();
    }

    private static void writeFile(Path dir, String file, String assignor, List<String> cases) throws IOException {
        StringBuilder sb = new StringBuilder();
        sb.append("{\"assignor\":").append(q(assignor)).append(",\"kafka_clients\":\"4.3.1\",\"cases\":[\n");
        for (int i = 0; i < cases.size(); i++) {
            sb.append(cases.get(i));
            sb.append(i + 1 < cases.size() ? ",\n" : "\n");
        }
        sb.append("]}\n");
        Files.write(dir.resolve(file), sb.toString().getBytes(StandardCharsets.UTF_8));
        System.out.println("wrote " + cases.size() + " cases to " + dir.resolve(file));
    }

    private static List<MemberInput> sortedInputs(List<MemberInput> inputs) {
        List<MemberInput> sorted = new ArrayList<>(inputs);
        sorted.sort((a, b) -> a.id.compareTo(b.id));
        return sorted;
    }

    // ---------------------------------------------------------------------------------------
    // single-round scenarios (range, roundrobin)

    private List<String> singleRound(String prefix, Supplier<ConsumerPartitionAssignor> supplier, int count) {
        List<String> cases = new ArrayList<>();
        for (int c = 0; c < count; c++) {
            TreeMap<String, Integer> topics = genTopics();
            boolean same = rnd.nextInt(3) == 0;
            List<Member> members = genMembers(topics, same, rnd.nextInt(3));
            List<MemberInput> inputs = new ArrayList<>();
            for (Member m : members)
                inputs.add(new MemberInput(m.id, m.instanceId, m.topics, Collections.emptyList(), -1, null));
            // sometimes a topic only some members know about is missing from metadata
            TreeMap<String, Integer> meta = new TreeMap<>(topics);
            if (meta.size() > 1 && rnd.nextInt(6) == 0)
                meta.remove(meta.firstKey());
            inputs = sortedInputs(inputs);
            cases.add(caseJson(prefix + "-" + c, meta, inputs, run(supplier, meta, inputs)));
        }
        return cases;
    }

    // ---------------------------------------------------------------------------------------
    // multi-round simulations (sticky, cooperative-sticky)

    private static byte[] bytes(ByteBuffer b) {
        if (b == null)
            return null;
        ByteBuffer d = b.duplicate();
        byte[] out = new byte[d.remaining()];
        d.get(out);
        return out;
    }

    /** StickyAssignor user data v0 (no generation), written by hand as old clients did. */
    private static byte[] stickyUserDataV0(List<TopicPartition> owned) {
        Map<String, List<Integer>> byTopic = new TreeMap<>();
        for (TopicPartition tp : owned)
            byTopic.computeIfAbsent(tp.topic(), k -> new ArrayList<>()).add(tp.partition());
        int size = 4;
        for (Map.Entry<String, List<Integer>> e : byTopic.entrySet())
            size += 2 + e.getKey().getBytes(StandardCharsets.UTF_8).length + 4 + 4 * e.getValue().size();
        ByteBuffer buf = ByteBuffer.allocate(size);
        buf.putInt(byTopic.size());
        for (Map.Entry<String, List<Integer>> e : byTopic.entrySet()) {
            byte[] t = e.getKey().getBytes(StandardCharsets.UTF_8);
            buf.putShort((short) t.length);
            buf.put(t);
            buf.putInt(e.getValue().size());
            for (int p : e.getValue())
                buf.putInt(p);
        }
        return buf.array();
    }

    private MemberInput input(Member m, boolean cooperative, boolean stale) {
        List<TopicPartition> owned = stale ? m.olderOwned : m.owned;
        int generation = stale ? m.olderGeneration : m.generation;
        if (cooperative) {
            CooperativeStickyAssignor a = new CooperativeStickyAssignor();
            if (generation >= 0)
                a.onAssignment(new Assignment(owned), new ConsumerGroupMetadata("g", generation, m.id, Optional.empty()));
            byte[] ud = bytes(a.subscriptionUserData(new HashSet<>(m.topics)));
            // old subscription versions (< 2) carry no generation field: the assignor then reads it from user data
            int subGeneration = rnd.nextInt(5) == 0 ? -1 : generation;
            if (rnd.nextInt(25) == 0)
                ud = new byte[] {1, 2};  // unreadable user data
            return new MemberInput(m.id, m.instanceId, m.topics, owned, subGeneration, ud);
        } else {
            byte[] ud = null;
            if (generation >= 0) {
                int kind = rnd.nextInt(12);
                if (kind == 0) {
                    ud = stickyUserDataV0(owned);
                } else if (kind == 1) {
                    ud = new byte[] {0, 0, 0, 9, 1};  // unreadable user data
                } else {
                    StickyAssignor a = new StickyAssignor();
                    a.onAssignment(new Assignment(owned), new ConsumerGroupMetadata("g", generation, m.id, Optional.empty()));
                    ud = bytes(a.subscriptionUserData(new HashSet<>(m.topics)));
                }
            }
            // the sticky assignor reads previous ownership from user data only
            return new MemberInput(m.id, m.instanceId, m.topics, Collections.emptyList(), generation, ud);
        }
    }

    private List<String> multiRound(String prefix, Supplier<ConsumerPartitionAssignor> supplier, boolean cooperative,
                                    int sims, int rounds) {
        List<String> cases = new ArrayList<>();
        for (int s = 0; s < sims; s++) {
            TreeMap<String, Integer> topics = genTopics();
            boolean same = rnd.nextInt(2) == 0;
            int instanceMode = rnd.nextInt(3);
            List<Member> members = genMembers(topics, same, instanceMode);
            int nextMember = members.size();
            int generation = 0;
            for (int r = 0; r < rounds; r++) {
                if (r > 0)
                    mutate(topics, members, same, instanceMode, nextMember++);
                if (members.isEmpty())
                    members.add(new Member(memberId(nextMember++), null, genSubscription(topics, null)));
                generation++;
                List<MemberInput> inputs = new ArrayList<>();
                for (Member m : members) {
                    boolean stale = r > 1 && m.olderGeneration >= 0 && rnd.nextInt(10) == 0;
                    inputs.add(input(m, cooperative, stale));
                }
                // rarely: two members claim the same partition in the same generation
                if (inputs.size() > 1 && rnd.nextInt(15) == 0) {
                    MemberInput a = inputs.get(0);
                    MemberInput b = inputs.get(1);
                    if (!a.owned.isEmpty() && a.generation == b.generation && cooperative) {
                        List<TopicPartition> owned = new ArrayList<>(b.owned);
                        owned.add(a.owned.get(0));
                        inputs.set(1, new MemberInput(b.id, b.instanceId, b.topics, owned, b.generation, b.userData));
                    }
                }
                inputs = sortedInputs(inputs);
                Map<String, List<TopicPartition>> result = run(supplier, topics, inputs);
                cases.add(caseJson(prefix + "-" + s + "-round" + r, topics, inputs, result));
                for (Member m : members) {
                    m.olderOwned = m.owned;
                    m.olderGeneration = m.generation;
                    m.owned = new ArrayList<>(result.getOrDefault(m.id, Collections.emptyList()));
                    m.generation = generation;
                }
            }
        }
        return cases;
    }

    private void mutate(TreeMap<String, Integer> topics, List<Member> members, boolean same, int instanceMode, int n) {
        int changes = rnd.nextInt(3);  // 0 = follow-up rebalance with no change
        for (int i = 0; i < changes; i++) {
            switch (rnd.nextInt(7)) {
                case 0: {  // a member joins
                    List<String> subs = same && !members.isEmpty() ? new ArrayList<>(members.get(0).topics)
                        : genSubscription(topics, null);
                    String id = memberId(n);
                    if (members.stream().noneMatch(m -> m.id.equals(id)) && members.size() < 10)
                        members.add(new Member(id, instanceId(instanceMode, n), subs));
                    break;
                }
                case 1:  // a member leaves
                    if (members.size() > 1)
                        members.remove(rnd.nextInt(members.size()));
                    break;
                case 2: {  // a member changes its subscription
                    if (!same && !members.isEmpty())
                        members.get(rnd.nextInt(members.size())).topics = genSubscription(topics, null);
                    break;
                }
                case 3: {  // partitions are added to a topic
                    List<String> names = new ArrayList<>(topics.keySet());
                    String t = names.get(rnd.nextInt(names.size()));
                    topics.put(t, Math.min(30, topics.get(t) + 1 + rnd.nextInt(5)));
                    break;
                }
                case 4: {  // a topic is deleted
                    if (topics.size() > 1) {
                        List<String> names = new ArrayList<>(topics.keySet());
                        topics.remove(names.get(rnd.nextInt(names.size())));
                    }
                    break;
                }
                case 5: {  // a new topic appears and everybody (or somebody) subscribes
                    for (String t : TOPIC_POOL) {
                        if (!topics.containsKey(t) && topics.size() < 8) {
                            topics.put(t, 1 + rnd.nextInt(30));
                            for (Member m : members) {
                                if (same || rnd.nextBoolean()) {
                                    List<String> subs = new ArrayList<>(m.topics);
                                    subs.add(t);
                                    m.topics = subs;
                                }
                            }
                            break;
                        }
                    }
                    break;
                }
                default: {  // two members leave and one joins
                    if (members.size() > 2) {
                        members.remove(rnd.nextInt(members.size()));
                        members.remove(rnd.nextInt(members.size()));
                    }
                    List<String> subs = same && !members.isEmpty() ? new ArrayList<>(members.get(0).topics)
                        : genSubscription(topics, null);
                    String id = memberId(n + 100);
                    if (members.stream().noneMatch(m -> m.id.equals(id)))
                        members.add(new Member(id, instanceId(instanceMode, n), subs));
                }
            }
        }
    }

    /** ConsumerProtocol bytes for subscriptions and assignments at every version. */
    private List<String> protocolCases(int count) {
        List<String> cases = new ArrayList<>();
        for (int c = 0; c < count; c++) {
            TreeMap<String, Integer> topics = genTopics();
            List<String> subs = randomSubset(new ArrayList<>(topics.keySet()));
            List<TopicPartition> owned = new ArrayList<>();
            for (String t : subs)
                for (int p = 0; p < topics.get(t); p++)
                    if (rnd.nextInt(3) == 0)
                        owned.add(new TopicPartition(t, p));
            Collections.shuffle(owned, rnd);
            byte[] ud = rnd.nextBoolean() ? null : new byte[rnd.nextInt(6)];
            if (ud != null)
                rnd.nextBytes(ud);
            int generation = rnd.nextInt(4) == 0 ? -1 : rnd.nextInt(100);
            String rack = rnd.nextInt(3) == 0 ? null : "rack-" + rnd.nextInt(3);
            Subscription sub = new Subscription(subs, ud == null ? null : ByteBuffer.wrap(ud), owned, generation,
                Optional.ofNullable(rack));
            Assignment assignment = new Assignment(owned, ud == null ? null : ByteBuffer.wrap(ud));
            StringBuilder sb = new StringBuilder();
            sb.append("{\"topics\":[");
            for (int i = 0; i < subs.size(); i++)
                sb.append(i > 0 ? "," : "").append(q(subs.get(i)));
            sb.append("],\"partitions\":").append(tps(owned));
            if (ud != null)
                sb.append(",\"user_data\":").append(q(hex(ud)));
            sb.append(",\"generation\":").append(generation);
            if (rack != null)
                sb.append(",\"rack\":").append(q(rack));
            sb.append(",\"subscription\":[");
            for (short v = 0; v <= 3; v++)
                sb.append(v > 0 ? "," : "").append(q(hex(bytes(ConsumerProtocol.serializeSubscription(sub, v)))));
            sb.append("],\"assignment\":[");
            for (short v = 0; v <= 3; v++)
                sb.append(v > 0 ? "," : "").append(q(hex(bytes(ConsumerProtocol.serializeAssignment(assignment, v)))));
            sb.append("]}");
            cases.add(sb.toString());
        }
        return cases;
    }

    public static void main(String[] args) throws IOException {
        Path out = Path.of(args.length > 0 ? args[0] : "kafka-consumer/tests/fixtures/assignors");
        Files.createDirectories(out);
        AssignorVectors g = new AssignorVectors(20240917L);
        writeFile(out, "range.json", "range", g.singleRound("range", RangeAssignor::new, 150));
        writeFile(out, "roundrobin.json", "roundrobin", g.singleRound("roundrobin", RoundRobinAssignor::new, 150));
        writeFile(out, "sticky.json", "sticky", g.multiRound("sticky", StickyAssignor::new, false, 45, 6));
        writeFile(out, "cooperative_sticky.json", "cooperative-sticky",
            g.multiRound("cooperative-sticky", CooperativeStickyAssignor::new, true, 45, 6));
        writeFile(out, "consumer_protocol.json", "consumer-protocol", g.protocolCases(30));
    }
}
