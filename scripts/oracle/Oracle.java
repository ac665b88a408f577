import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Test-vector generator for the Swift converters: computes, with the JDK's own classes, what
 * Debezium's code paths produce (HashMap iteration order, BigDecimal.toString/toPlainString/
 * doubleValue, Double.toString, BitSet.toByteArray, Base64, the interval seconds arithmetic).
 * The Debezium / pgjdbc steps around them are re-stated here (not copied): see NOTES.md.
 *
 * Output: a few "#" lines saying where the vectors come from (with the JDK's version), then one
 * vector per line, "kind<TAB>input-hex<TAB>expected-hex" (UTF-8 hex). Deterministic: fixed seeds.
 * Usage (from scripts/oracle): java Oracle > ../../Tests/ChangeEventTests/Fixtures/OracleVectors.tsv
 */
public class Oracle {
    static final StringBuilder OUT = new StringBuilder();

    static String hex(String s) {
        StringBuilder b = new StringBuilder();
        for (byte x : s.getBytes(StandardCharsets.UTF_8)) b.append(String.format("%02x", x & 0xff));
        return b.toString();
    }

    static void emit(String kind, String input, String expected) {
        OUT.append(kind).append('\t').append(hex(input)).append('\t').append(hex(expected)).append('\n');
    }

    // ---- JSON string escaping as Jackson writes it (", \, \b \t \n \f \r, other C0 as \\u00XX upper-case).
    // Jackson's byte generator (UTF8JsonGenerator, which writes the events) also escapes each UTF-16
    // surrogate, so a character outside the Basic Multilingual Plane becomes \\uD83D\\uDE00; its character
    // writer (ObjectMapper.writeValueAsString, which makes hstore's json-mode text) leaves them as they are.
    static void jsonString(StringBuilder b, String s) { jsonString(b, s, true); }

    static void jsonString(StringBuilder b, String s, boolean escapeSurrogates) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\b': b.append("\\b"); break;
                case '\t': b.append("\\t"); break;
                case '\n': b.append("\\n"); break;
                case '\f': b.append("\\f"); break;
                case '\r': b.append("\\r"); break;
                default:
                    if (c < 0x20 || (escapeSurrogates && Character.isSurrogate(c))) b.append(String.format("\\u%04X", (int) c));
                    else b.append(c);
            }
        }
        b.append('"');
    }

    // ---- hstore
    static String hstoreQuote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') b.append('\\');
            b.append(c);
        }
        return b.append('"').toString();
    }

    static String hstoreObject(Map<String, String> map, boolean escapeSurrogates) {
        StringBuilder obj = new StringBuilder("{");
        boolean first = true;
        for (Map.Entry<String, String> e : map.entrySet()) {
            if (!first) obj.append(',');
            first = false;
            jsonString(obj, e.getKey(), escapeSurrogates);
            obj.append(':');
            if (e.getValue() == null) obj.append("null"); else jsonString(obj, e.getValue(), escapeSurrogates);
        }
        return obj.append('}').toString();
    }

    /** hstore_out text for the pairs, a HashMap filled in text order, and both JSON forms. */
    static void hstoreCase(List<String[]> pairs) {
        StringBuilder text = new StringBuilder();
        Map<String, String> map = new HashMap<>();
        for (String[] kv : pairs) {
            if (text.length() > 0) text.append(", ");
            text.append(hstoreQuote(kv[0])).append("=>").append(kv[1] == null ? "NULL" : hstoreQuote(kv[1]));
            map.put(kv[0], kv[1]);
        }
        String obj = hstoreObject(map, true);
        if (pairs.size() <= 12) {
            emit("hstore_map", text.toString(), obj);
            StringBuilder str = new StringBuilder();
            jsonString(str, hstoreObject(map, false));
            emit("hstore_json", text.toString(), str.toString());
        }
        // The iteration order as text positions of each key's first occurrence.
        Map<String, Integer> firstIndex = new HashMap<>();
        for (int i = 0; i < pairs.size(); i++) firstIndex.putIfAbsent(pairs.get(i)[0], i);
        StringBuilder order = new StringBuilder();
        for (String k : map.keySet()) {
            if (order.length() > 0) order.append(',');
            order.append(firstIndex.get(k));
        }
        emit("hstore_order", text.toString(), order.toString());
    }

    static String randomKey(Random r, int maxLen) {
        String alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.\"\\é€😀\t\n";
        int len = 1 + r.nextInt(maxLen);
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < len; i++) {
            int cp = alphabet.codePointAt(alphabet.offsetByCodePoints(0, r.nextInt(alphabet.codePointCount(0, alphabet.length()))));
            b.appendCodePoint(cp);
        }
        return b.toString();
    }

    static void hstores() {
        Random r = new Random(20240611);
        // Random small and medium maps.
        for (int c = 0; c < 200; c++) {
            int n = r.nextInt(c < 150 ? 12 : 100);
            List<String[]> pairs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String k = randomKey(r, 8);
                String v = r.nextInt(5) == 0 ? null : (r.nextInt(4) == 0 ? "NULL" : randomKey(r, 10));
                pairs.add(new String[]{k, v});
                if (r.nextInt(10) == 0) pairs.add(new String[]{k, "again"});   // repeated key
            }
            hstoreCase(pairs);
        }
        // Full hash collisions ("Aa" and "BB" have equal hashCodes): tree bins ordered by compareTo.
        for (int c = 0; c < 40; c++) {
            int blocks = 3 + r.nextInt(4);
            int n = 5 + r.nextInt(60);
            List<String[]> pairs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                StringBuilder k = new StringBuilder();
                for (int b = 0; b < blocks; b++) k.append(r.nextBoolean() ? "Aa" : "BB");
                pairs.add(new String[]{k.toString(), Integer.toString(i)});
            }
            // Some unrelated keys to force resizes around the colliding bin.
            int extra = r.nextInt(80);
            for (int i = 0; i < extra; i++) pairs.add(r.nextInt(pairs.size() + 1), new String[]{"k" + r.nextInt(1000), r.nextInt(4) == 0 ? null : "v"});
            hstoreCase(pairs);
        }
        // Same bucket, different hashes: many keys whose spread hash shares the low 6..8 bits.
        for (int c = 0; c < 40; c++) {
            int bits = 6 + r.nextInt(3);
            int want = r.nextInt(1 << bits);
            int n = 9 + r.nextInt(40);
            List<String[]> pairs = new ArrayList<>();
            while (pairs.size() < n) {
                String k = randomKey(r, 6);
                int h = k.hashCode();
                if (((h ^ (h >>> 16)) & ((1 << bits) - 1)) == want) pairs.add(new String[]{k, "v" + pairs.size()});
            }
            int extra = 20 + r.nextInt(100);
            for (int i = 0; i < extra; i++) pairs.add(r.nextInt(pairs.size() + 1), new String[]{"f" + r.nextInt(100000), "w"});
            hstoreCase(pairs);
        }
        hstoreCase(new ArrayList<>());
    }

    // ---- numeric string / double
    static void numerics() {
        Random r = new Random(77);
        List<String> inputs = new ArrayList<>(List.of("0", "0.00", "-0.00", "0.00000000", "1", "-1", "1.5", "1.500", "123456789012345678901234567890",
                "0.0000001", "0.00000010", "0.000001", "0.0001234", "-0.0000001", "100", "1e0".equals("") ? "" : "10.0", "9999999.9", "10000000",
                "0.001", "0.0001", "12345678.9", "1234567.0", "-123.4500", "3.14159265358979323846264338327950288419716939937510",
                "179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
                "0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000049",
                "-0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001"));
        for (int i = 0; i < 400; i++) {
            StringBuilder b = new StringBuilder();
            if (r.nextInt(3) == 0) b.append('-');
            int intLen = r.nextInt(4) == 0 ? 1 : r.nextInt(25);
            if (intLen == 0) b.append('0');
            for (int k = 0; k < intLen; k++) b.append((char) ('0' + (k == 0 ? 1 + r.nextInt(9) : r.nextInt(10))));
            int fracLen = r.nextInt(20);
            if (r.nextInt(4) == 0) { b.setLength(b.length() - (intLen == 0 ? 1 : intLen)); b.append('0'); }
            if (fracLen > 0) {
                b.append('.');
                int zeros = r.nextInt(3) == 0 ? r.nextInt(12) : 0;
                for (int k = 0; k < fracLen; k++) b.append(k < zeros ? '0' : (char) ('0' + r.nextInt(10)));
            }
            inputs.add(b.toString());
        }
        for (String s : inputs) {
            BigDecimal d = new BigDecimal(s);
            emit("numeric_string", s, d.toString());
            int scale = d.scale() + r.nextInt(4);
            emit("numeric_string_scale_" + scale, s, d.setScale(scale).toString());
            emit("numeric_double", s, Double.toString(d.doubleValue()));
        }
        emit("numeric_string_scale_2046", "1200", new BigDecimal("1200").setScale(2046).toString());
    }

    // ---- money (lc_monetary=C text)
    static String moneyText(BigDecimal v) {
        String digits = v.abs().setScale(2).toPlainString();
        String intPart = digits.substring(0, digits.indexOf('.'));
        StringBuilder grouped = new StringBuilder();
        for (int i = 0; i < intPart.length(); i++) {
            if (i > 0 && (intPart.length() - i) % 3 == 0) grouped.append(',');
            grouped.append(intPart.charAt(i));
        }
        return (v.signum() < 0 ? "-$" : "$") + grouped + digits.substring(digits.indexOf('.'));
    }

    static void money() {
        Random r = new Random(5);
        List<BigDecimal> values = new ArrayList<>(List.of(BigDecimal.ZERO, new BigDecimal("0.01"), new BigDecimal("-0.01"), new BigDecimal("1234.56"),
                new BigDecimal("-1234.56"), new BigDecimal("10000000.00"), new BigDecimal("92233720368547758.07"), new BigDecimal("-92233720368547758.08"),
                new BigDecimal("0.10"), new BigDecimal("1")));
        for (int i = 0; i < 200; i++) values.add(BigDecimal.valueOf(r.nextLong() >> r.nextInt(64), 2));
        for (BigDecimal v : values) {
            String text = moneyText(v);
            // Debezium: sign/parentheses and the currency symbol stripped, separators removed.
            BigDecimal parsed = new BigDecimal((text.startsWith("-") ? "-" : "") + text.replace("-", "").substring(1).replace(",", ""));
            emit("money_string", text, parsed.toPlainString());
            emit("money_double", text, Double.toString(parsed.doubleValue()));
        }
    }

    // ---- bits
    static void bits() {
        Random r = new Random(9);
        List<String> inputs = new ArrayList<>(List.of("", "0", "1", "10", "01", "10110", "00000000", "00000001", "10000000", "100000000",
                "0000000100000000", "1111111111111111", "0000000000000000000000000000000000000000000000000000000000000000000000001"));
        for (int i = 0; i < 200; i++) {
            int len = r.nextInt(100);
            StringBuilder b = new StringBuilder();
            for (int k = 0; k < len; k++) b.append(r.nextInt(3) == 0 ? '1' : '0');
            inputs.add(b.toString());
        }
        for (String s : inputs) {
            BitSet set = new BitSet(s.length());
            for (int i = s.length() - 1; i >= 0; i--) if (s.charAt(i) == '1') set.set(s.length() - i - 1);
            emit("bits", s, "\"" + Base64.getEncoder().encodeToString(set.toByteArray()) + "\"");
        }
    }

    // ---- interval.handling.mode=string
    static String isoSeconds(int whole, int micro) {
        double seconds = whole + (double) micro / 1_000_000;
        BigDecimal s = BigDecimal.valueOf(seconds);
        if (s.scale() > 6) s = s.setScale(6, RoundingMode.DOWN);
        return s.stripTrailingZeros().toPlainString();
    }

    static void intervals() {
        Random r = new Random(11);
        for (int i = 0; i < 600; i++) {
            int years = r.nextInt(4) == 0 ? 0 : r.nextInt(200) - 100;
            int months = r.nextInt(3) == 0 ? 0 : r.nextInt(23) - 11;
            int days = r.nextInt(3) == 0 ? 0 : r.nextInt(2000) - 1000;
            boolean negTime = r.nextBoolean();
            int hours = r.nextInt(5) == 0 ? r.nextInt(Integer.MAX_VALUE) : r.nextInt(100);
            int minutes = r.nextInt(60), whole = r.nextInt(60);
            int micro = r.nextInt(3) == 0 ? 0 : r.nextInt(1_000_000);
            boolean hasTime = r.nextInt(4) != 0;
            // interval_out, IntervalStyle=postgres
            StringBuilder text = new StringBuilder();
            boolean anyNegative = false;
            int[] ymd = {years, months, days};
            String[][] units = {{"year", "years"}, {"mon", "mons"}, {"day", "days"}};
            for (int k = 0; k < 3; k++) {
                if (ymd[k] == 0) continue;
                if (text.length() > 0) text.append(' ');
                if (anyNegative && ymd[k] > 0) text.append('+');
                text.append(ymd[k]).append(' ').append(Math.abs(ymd[k]) == 1 ? units[k][0] : units[k][1]);
                if (ymd[k] < 0) anyNegative = true;
            }
            if (!hasTime && text.length() == 0) hasTime = true;
            if (!hasTime) { hours = 0; minutes = 0; whole = 0; micro = 0; }
            if (hasTime) {
                if (text.length() > 0) text.append(' ');
                boolean zero = hours == 0 && minutes == 0 && whole == 0 && micro == 0;
                if (negTime && !zero) text.append('-'); else if (anyNegative && !zero) text.append('+');
                text.append(String.format("%02d:%02d:%02d", hours, minutes, whole));
                if (micro != 0) {
                    String f = String.format("%06d", micro);
                    while (f.endsWith("0")) f = f.substring(0, f.length() - 1);
                    text.append('.').append(f);
                }
                if (negTime && !zero) { hours = -hours; minutes = -minutes; whole = -whole; micro = -micro; }
            }
            String iso = "P" + years + "Y" + months + "M" + days + "D" + "T" + hours + "H" + minutes + "M" + isoSeconds(whole, micro) + "S";
            emit("interval_iso", text.toString(), "\"" + iso + "\"");
        }
    }

    // ---- Double.toString on assorted doubles (input: the bit pattern in hex)
    static void doubles() {
        Random r = new Random(13);
        List<Long> patterns = new ArrayList<>();
        for (long m = 1; m <= 64; m++) { patterns.add(m); patterns.add(m | 0x8000000000000000L); }
        long[] fixed = {0x3ff0000000000000L, 0x4024000000000000L, 0x416312d000000000L, 0x3f50624dd2f1a9fcL, 0x3f1a36e2eb1c432dL,
                Double.doubleToLongBits(1e7), Double.doubleToLongBits(9999999.999999998), Double.doubleToLongBits(1e-3), Double.doubleToLongBits(0.00099999999),
                Double.doubleToLongBits(Double.MAX_VALUE), Double.doubleToLongBits(Double.MIN_NORMAL), Double.doubleToLongBits(2.2250738585072009E-308),
                Double.doubleToLongBits(1e23), Double.doubleToLongBits(2e23), Double.doubleToLongBits(4.35e-321), Double.doubleToLongBits(1.0E-322)};
        for (long f : fixed) patterns.add(f);
        for (int i = 0; i < 1200; i++) {
            long bitsValue = r.nextLong();
            if (Double.isNaN(Double.longBitsToDouble(bitsValue)) || Double.isInfinite(Double.longBitsToDouble(bitsValue))) continue;
            patterns.add(bitsValue);
        }
        for (int i = 0; i < 200; i++) patterns.add(r.nextLong() & 0x000fffffffffffffL);   // subnormals
        for (int i = 0; i < 300; i++) patterns.add(Double.doubleToLongBits(r.nextInt(100_000_000) / Math.pow(10, r.nextInt(12))));
        for (long p : patterns) emit("double", Long.toHexString(p), Double.toString(Double.longBitsToDouble(p)));
    }

    /** Many collision-heavy maps (offline stress run, not embedded). */
    static void hstoreStress(int cases) {
        Random r = new Random(31337);
        for (int c = 0; c < cases; c++) {
            List<String[]> pairs = new ArrayList<>();
            int groups = 1 + r.nextInt(4);
            for (int g = 0; g < groups; g++) {
                String prefix = randomKey(r, 2);
                int blocks = 2 + r.nextInt(5);
                int n = r.nextInt(80);
                for (int i = 0; i < n; i++) {
                    StringBuilder k = new StringBuilder(prefix);
                    for (int b = 0; b < blocks; b++) k.append(r.nextBoolean() ? "Aa" : "BB");
                    pairs.add(r.nextInt(pairs.size() + 1), new String[]{k.toString(), r.nextInt(5) == 0 ? null : "v"});
                }
            }
            int bits = 4 + r.nextInt(6);
            int want = r.nextInt(1 << bits);
            int n = r.nextInt(60);
            for (int i = 0; i < n; i++) {
                String k = randomKey(r, 5);
                int h = k.hashCode();
                if (((h ^ (h >>> 16)) & ((1 << bits) - 1)) == want || r.nextInt(8) == 0) pairs.add(r.nextInt(pairs.size() + 1), new String[]{k, "w"}); else i--;
            }
            hstoreCase(pairs);
        }
    }

    /** The "#" lines that open the output: the test loader skips them; they tell a reader what made the file. */
    static String header() {
        return "# GENERATED by scripts/oracle/Oracle.java on JDK " + System.getProperty("java.version") + "; do not edit.\n"
            + "# One vector per line: kind, input (UTF-8 hex), expected output (UTF-8 hex), tab-separated.\n"
            + "# Expected values come from the JDK's own HashMap, BigDecimal, Double, BitSet and Base64.\n";
    }

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("stress")) {
            hstoreStress(Integer.parseInt(args[1]));
            System.out.print(header());
            System.out.print(OUT);
            return;
        }
        hstores();
        numerics();
        money();
        bits();
        intervals();
        doubles();
        System.out.print(header());
        System.out.print(OUT);
        System.err.println("java " + System.getProperty("java.version"));
    }
}
