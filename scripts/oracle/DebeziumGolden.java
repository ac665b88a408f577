import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.Header;
import io.debezium.engine.format.Avro;
import io.debezium.engine.format.Json;
import io.debezium.engine.format.KeyValueHeaderChangeEventFormat;

/**
 * Runs Debezium's PostgreSQL connector in the embedded engine over the golden workload and writes what it
 * emits as the golden files' lines (see scripts/oracle/README.md; scripts/oracle/debezium.sh runs it).
 *
 * Keys, values and headers go through the engine's own Json format: Kafka Connect's JsonConverter for
 * all three, configured by the `converter.*` properties (so `converter.schemas.enable` applies to the
 * headers too), which is what Debezium Server and the embedded engine put on Kafka.
 *
 * Usage: java -cp 'LIBS/*' DebeziumGolden.java CONNECTOR.properties SCRIPT.sql MASKS.tsv OUTPUT.jsonl TIMEOUT_S [avro]
 *
 * With `avro`, keys and values go through the engine's Avro format instead: Confluent's AvroConverter
 * (configured by the `converter.*` properties, `converter.schema.registry.url` naming the registry it
 * registers its schemas with), headers still through JsonConverter. What matters then is what the
 * registry got (scripts/oracle/debezium.sh --avro reads it back); OUTPUT.jsonl gets one line per record
 * with its topic only (Avro binary is no JSON line).
 *
 * Before the engine starts, the part of SCRIPT.sql before its `-- changes` line runs as one query (the
 * schema; the tables are empty when the connector makes its slot, so its initial snapshot emits nothing).
 * Once the connector streams, the statements after that line run one per query, as GoldenTests runs them.
 * After each statement outside an explicit transaction, a non-transactional logical decoding message
 * with prefix `oracle.sync` goes out and the next statement waits until the connector has emitted it:
 * the connector keeps up with the workload, as a connector streaming live does, instead of decoding a
 * backlog after later DDL (Debezium reads a relation's key columns from the catalog when it decodes the
 * relation, so a table renamed in between would lose its key). Those messages are not written.
 *
 * Records are grouped by topic in name order, in the order they arrived within a topic (the golden test
 * reads each topic's one partition in offset order), and masked with the rules of MASKS.tsv, the file the
 * Swift test masks its own records with.
 */
public class DebeziumGolden {

    record Mask(Pattern pattern, String replacement) {}

    static final String SYNC_PREFIX = "oracle.sync";

    public static void main(String[] args) throws Exception {
        if (args.length != 5 && !(args.length == 6 && args[5].equals("avro"))) {
            System.err.println("usage: DebeziumGolden CONNECTOR.properties SCRIPT.sql MASKS.tsv OUTPUT.jsonl TIMEOUT_S [avro]");
            System.exit(2);
        }
        boolean avro = args.length == 6;
        Properties config = new Properties();
        try (Reader reader = Files.newBufferedReader(Path.of(args[0]), StandardCharsets.UTF_8)) {
            config.load(reader);
        }
        String script = Files.readString(Path.of(args[1]), StandardCharsets.UTF_8);
        String[] parts = script.split("\n-- changes\n", -1);
        if (parts.length != 2) {
            throw new IllegalArgumentException(args[1] + " must have exactly one `-- changes` line");
        }
        List<Mask> masks = readMasks(Path.of(args[2]));
        Path output = Path.of(args[3]);
        long timeoutSeconds = Long.parseLong(args[4]);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);

        String url = "jdbc:postgresql://" + config.getProperty("database.hostname") + ":" + config.getProperty("database.port")
                + "/" + config.getProperty("database.dbname") + "?preferQueryMode=simple";
        Connection sql = DriverManager.getConnection(url, config.getProperty("database.user"), config.getProperty("database.password"));
        execute(sql, parts[0]);

        Map<String, List<String>> linesByTopic = new TreeMap<>();
        AtomicLong syncsSeen = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        String syncKey = "{\"prefix\":\"" + SYNC_PREFIX + "\"}";
        // A run whose transforms turn logical messages into other records (the outbox router over decoded
        // messages) says what a sync message holds (`oracle.sync.content`, JSON those transforms take) and
        // the topic its record then goes to (`oracle.sync.topic`); that topic's records are the syncs.
        String syncContent = config.getProperty("oracle.sync.content");
        String syncTopic = config.getProperty("oracle.sync.topic");

        // Json: keys and values are JSON text; Avro: Confluent's frame (magic byte, schema id, Avro binary),
        // where the sync messages' prefix is still there as the UTF-8 bytes of an Avro string.
        @SuppressWarnings({"unchecked", "rawtypes"})
        DebeziumEngine.Builder<ChangeEvent<Object, Object>> builder = (DebeziumEngine.Builder) (avro
                ? DebeziumEngine.create(KeyValueHeaderChangeEventFormat.of(Avro.class, Avro.class, Json.class))
                : DebeziumEngine.create(KeyValueHeaderChangeEventFormat.of(Json.class, Json.class, Json.class)));
        DebeziumEngine<ChangeEvent<Object, Object>> engine = builder
                .using(config)
                .notifying((List<ChangeEvent<Object, Object>> records, DebeziumEngine.RecordCommitter<ChangeEvent<Object, Object>> committer) -> {
                    for (ChangeEvent<Object, Object> record : records) {
                        String key = record.key() == null ? null
                                : record.key() instanceof byte[] bytes ? new String(bytes, StandardCharsets.ISO_8859_1) : (String) record.key();
                        boolean isSync = syncTopic != null ? record.destination().equals(syncTopic)
                                : key != null && record.destination().endsWith(".message")
                                        && (avro ? key.contains(SYNC_PREFIX) : key.contains(syncKey));
                        if (isSync) {
                            syncsSeen.incrementAndGet();
                        }
                        else {
                            String line = avro ? "{\"topic\":\"" + record.destination() + "\"}" : goldenLine(record, masks);
                            synchronized (linesByTopic) {
                                linesByTopic.computeIfAbsent(record.destination(), t -> new ArrayList<>()).add(line);
                            }
                        }
                        committer.markProcessed(record);
                    }
                    committer.markBatchFinished();
                })
                .using((boolean success, String message, Throwable error) -> {
                    if (!success) {
                        failure.set(error != null ? error : new IllegalStateException(message));
                    }
                })
                .build();

        ExecutorService executor = Executors.newSingleThreadExecutor();
        executor.execute(engine);
        String outcome = null;
        try {
            String slot = config.getProperty("slot.name");
            if (!waitFor(deadline, failure, () -> isStreaming(sql, slot))) {
                outcome = "the connector did not start streaming from slot " + slot;
            }
            long syncs = 0;
            boolean inTransaction = false;
            for (String statement : statements(parts[1])) {
                if (outcome != null) {
                    break;
                }
                execute(sql, statement);
                String command = statement.strip().toUpperCase(java.util.Locale.ROOT);
                if (command.startsWith("BEGIN") || command.startsWith("START TRANSACTION")) {
                    inTransaction = true;
                }
                else if (command.startsWith("COMMIT") || command.startsWith("ROLLBACK") || command.startsWith("END")) {
                    inTransaction = false;
                }
                if (!inTransaction) {
                    syncs += 1;
                    String content = syncContent != null ? syncContent.replace("'", "''") : String.valueOf(syncs);
                    execute(sql, "SELECT pg_logical_emit_message(false, '" + SYNC_PREFIX + "', '" + content + "')");
                    long expected = syncs;
                    if (!waitFor(deadline, failure, () -> syncsSeen.get() >= expected)) {
                        outcome = "the connector did not emit the changes of: " + statement.strip();
                    }
                }
            }
        }
        finally {
            try {
                engine.close();
            }
            catch (IllegalStateException alreadyStopped) {
                // The engine stopped on its own (it failed): `failure` says why.
            }
            executor.shutdown();
            if (!executor.awaitTermination(60, TimeUnit.SECONDS)) {
                System.err.println("DebeziumGolden: the engine did not stop within 60 s");
            }
            sql.close();
        }
        if (failure.get() != null) {
            System.err.println("DebeziumGolden: the engine failed");
            failure.get().printStackTrace();
            System.exit(1);
        }
        if (outcome != null) {
            System.err.println("DebeziumGolden: " + outcome + " (timeout " + timeoutSeconds + " s)");
            System.exit(1);
        }
        StringBuilder text = new StringBuilder();
        synchronized (linesByTopic) {
            for (List<String> lines : linesByTopic.values()) {
                for (String line : lines) {
                    text.append(line).append('\n');
                }
            }
        }
        Files.writeString(output, text.toString(), StandardCharsets.UTF_8);
        System.exit(0);
    }

    interface Condition {
        boolean holds() throws Exception;
    }

    /** Polls `condition` until it holds (true) or the deadline passes or the engine failed (false). */
    static boolean waitFor(long deadline, AtomicReference<Throwable> failure, Condition condition) throws Exception {
        while (System.nanoTime() < deadline && failure.get() == null) {
            if (condition.holds()) {
                return true;
            }
            Thread.sleep(20);
        }
        return condition.holds();
    }

    static boolean isStreaming(Connection sql, String slot) throws SQLException {
        try (PreparedStatement query = sql.prepareStatement("""
                SELECT count(*) FROM pg_catalog.pg_stat_replication r
                JOIN pg_catalog.pg_replication_slots s ON s.active_pid = r.pid
                WHERE s.slot_name = ? AND r.state IN ('catchup', 'streaming')""")) {
            query.setString(1, slot);
            try (ResultSet rows = query.executeQuery()) {
                return rows.next() && rows.getLong(1) == 1;
            }
        }
    }

    static void execute(Connection sql, String text) throws SQLException {
        try (Statement statement = sql.createStatement()) {
            statement.setEscapeProcessing(false);
            statement.execute(text);
        }
    }

    /** GoldenTests.statements: one statement per `;`-ended line, `--` lines and leading blank lines left out. */
    static List<String> statements(String text) {
        List<String> statements = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : text.split("\n", -1)) {
            if (line.startsWith("--") || (current.length() == 0 && line.isBlank())) {
                continue;
            }
            current.append(line).append('\n');
            if (line.endsWith(";")) {
                statements.add(current.toString());
                current.setLength(0);
            }
        }
        return statements;
    }

    /**
     * GoldenTests.goldenLine: topic, then key, value and headers as written, the whole line masked (a rule
     * may need a header's name, as the run id's does).
     */
    static String goldenLine(ChangeEvent<Object, Object> record, List<Mask> masks) {
        StringBuilder line = new StringBuilder();
        line.append("{\"topic\":\"").append(record.destination()).append("\",\"key\":").append(orNull((String) record.key()))
                .append(",\"value\":").append(orNull((String) record.value()))
                .append(",\"headers\":{");
        boolean first = true;
        for (Header<String> header : record.<String> headers()) {
            if (!first) {
                line.append(',');
            }
            first = false;
            line.append('"').append(header.getKey()).append("\":").append(orNull(header.getValue()));
        }
        return masked(line.append("}}").toString(), masks);
    }

    static String orNull(String text) {
        return text == null ? "null" : text;
    }

    static String masked(String text, List<Mask> masks) {
        String result = text;
        for (Mask mask : masks) {
            result = mask.pattern().matcher(result).replaceAll(mask.replacement());
        }
        return result;
    }

    /** MASKS.tsv: `pattern<TAB>replacement` lines, `$1` to `$9` in a replacement standing for the groups; `#` comments. */
    static List<Mask> readMasks(Path path) throws IOException {
        List<Mask> masks = new ArrayList<>();
        for (String line : Files.readAllLines(path, StandardCharsets.UTF_8)) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] parts = line.split("\t", -1);
            if (parts.length != 2) {
                throw new UncheckedIOException(new IOException("not a `pattern<TAB>replacement` line in " + path + ": " + line));
            }
            // Only $1 to $9 are special in the shared syntax: quote everything else for Java's replaceAll.
            String replacement = Matcher.quoteReplacement(parts[1]).replaceAll("\\\\\\$([1-9])", "\\$$1");
            masks.add(new Mask(Pattern.compile(parts[0]), replacement));
        }
        return masks;
    }
}
