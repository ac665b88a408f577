import java.io.ByteArrayOutputStream;
import java.io.ObjectOutput;
import java.io.ObjectOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * Test vectors for Swallow's column.mask.hash options (Sources/ChangeEvent/ColumnMask.swift,
 * MessageDigest.swift), computed the way Debezium's MaskStrings.HashValueConverter computes them with the
 * JDK's own MessageDigest and ObjectOutputStream: V1 hashes salt + the Java serialization of the String,
 * V2 salt + its UTF-8 bytes (String.getBytes() under a UTF-8 default charset). Output, one vector a line,
 * tab-separated: algorithm, salt (UTF-8 hex), value (UTF-8 hex), V1 hex digest, V2 hex digest.
 *
 *   java scripts/oracle/MaskHashVectors.java > Tests/ChangeEventTests/Fixtures/MaskHashVectors.tsv
 */
public class MaskHashVectors {
    static String hex(byte[] bytes) {
        StringBuilder s = new StringBuilder();
        for (byte b : bytes) s.append(String.format("%02x", b));
        return s.toString();
    }

    static byte[] serialized(String value) throws Exception {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        ObjectOutput out = new ObjectOutputStream(bos);
        out.writeObject(value);
        out.flush();
        return bos.toByteArray();
    }

    public static void main(String[] args) throws Exception {
        String[] algorithms = {"MD5", "SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512", "SHA-512/224", "SHA-512/256"};
        String[] values = {"", "abc", "Ann Smith", "Zo\u00eb na\u00efve \u540d\u524d \ud83d\ude00 notes", "nul\u0000byte",
                           "x".repeat(66000), "y".repeat(200)};
        String[] salts = {"", "CzQMA0cB5K"};
        System.out.println("# scripts/oracle/MaskHashVectors.java, JDK " + System.getProperty("java.version"));
        for (String algorithm : algorithms) {
            for (String salt : salts) {
                for (String value : values) {
                    // The long value (TC_LONGSTRING in V1) once: it makes a line of 132 kB.
                    if (value.length() > 65535 && !(algorithm.equals("SHA-256") && !salt.isEmpty())) continue;
                    byte[] s = salt.getBytes(StandardCharsets.UTF_8);
                    MessageDigest digest = MessageDigest.getInstance(algorithm);
                    digest.update(s);
                    String v1 = hex(digest.digest(serialized(value)));
                    digest.reset();
                    digest.update(s);
                    String v2 = hex(digest.digest(value.getBytes(StandardCharsets.UTF_8)));
                    System.out.println(algorithm + "\t" + hex(s) + "\t" + hex(value.getBytes(StandardCharsets.UTF_8)) + "\t" + v1 + "\t" + v2);
                }
            }
        }
    }
}
