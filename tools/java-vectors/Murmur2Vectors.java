// Prints Java-client partitioning vectors: key (hex), murmur2(key), and the partition the Java
// client's built-in partitioner picks for keyed records for several partition counts.
// Run: java -cp kafka-clients.jar tools/java-vectors/Murmur2Vectors.java > kafka-producer/tests/fixtures/murmur2_java.tsv
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import java.nio.charset.StandardCharsets;
import java.util.Random;

public class Murmur2Vectors {
    static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b) sb.append(String.format("%02x", x));
        return sb.toString();
    }
    public static void main(String[] args) {
        int[] counts = {1, 2, 3, 6, 7, 12, 100, 1000};
        System.out.print("key_hex\tmurmur2");
        for (int n : counts) System.out.print("\tp" + n);
        System.out.println();
        Random r = new Random(42);
        java.util.List<byte[]> keys = new java.util.ArrayList<>();
        keys.add(new byte[0]);
        for (String s : new String[]{"a", "ab", "abc", "abcd", "abcde", "key-0", "key-1", "user-42", "\u00e9t\u00e9", "21", "kafka", "a-much-longer-key-with-several-words"})
            keys.add(s.getBytes(StandardCharsets.UTF_8));
        for (int i = 0; i < 200; i++) {
            byte[] k = new byte[r.nextInt(40)];
            r.nextBytes(k);
            keys.add(k);
        }
        for (byte[] k : keys) {
            System.out.print(hex(k) + "\t" + Utils.murmur2(k));
            for (int n : counts) System.out.print("\t" + BuiltInPartitioner.partitionForKey(k, n));
            System.out.println();
        }
    }
}
