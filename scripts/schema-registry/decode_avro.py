#!/usr/bin/env python3
"""Reads a golden run's Avro records back from Kafka and decodes them with an implementation independent of
Swallow's — confluent-kafka's AvroDeserializer (fastavro) through the Schema Registry — and checks that
every key and value means what the run's JSON expected file (real Debezium's JsonConverter output, masked)
says for the same change.

    PYTHONPATH=<confluent-kafka dir> decode_avro.py BOOTSTRAP REGISTRY_URL EXPECTED.jsonl MASKS.tsv [avro]

BOOTSTRAP: Kafka to read from (each topic of EXPECTED.jsonl, one partition, from the start).
EXPECTED.jsonl: GoldenTests' file of the same workload and options in JSON (`{"topic","key","value",
"headers"}` lines; with schemas, key and value are `{"schema","payload"}` and the payload counts).
`avro` as fifth argument: the Avro run adjusts field names (field.name.adjustment.mode=avro), so the
JSON's column names are adjusted the same way before comparing.

Each decoded datum is put in the shape JsonConverter gives the same Connect value — guided by the writer
schema the record's id names: Avro bytes and decimals as base64 (a decimal's unscaled two's-complement
bytes, as Java's BigInteger.toByteArray), Connect Date/Time/Timestamp logical types as the days or
milliseconds Avro carries (fastavro's date objects cannot hold years before 1), float as the shortest decimal that is the same float32 (Java's Float.toString), NaN and
infinities as JsonConverter's strings — then masked with MASKS.tsv like the expected lines, and compared
as JSON values (headers are not Avro and are not compared). Exits 0 when every record of every topic is
equal and no topic has more or fewer records, 1 otherwise, printing each difference.
"""
import base64
import json
import math
import re
import struct
import sys
import time
import uuid

import fastavro.read
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def raw_temporal_logical_types():
    """fastavro turns date, time-millis and timestamp-millis into Python dates and times, which cannot hold
    a year before 1 (the workload has 0044-03-15 BC): read them as the numbers Avro carries, which is
    what JsonConverter writes for the same Connect logical types."""
    def raw(data, *_):
        return data
    modules = [fastavro.read]
    try:
        import fastavro._read as compiled   # the compiled reader, used when present
        modules.append(compiled)
    except ImportError:
        pass
    for module in modules:
        for name in ("int-date", "int-time-millis", "long-timestamp-millis"):
            module.LOGICAL_READERS[name] = raw


def adjusted_field_name(name):
    """Debezium's field.name.adjustment.mode=avro (FieldNameUnderscoreReplacementFunction), per UTF-16 unit."""
    units = name.encode("utf-16-le")
    units = [int.from_bytes(units[i:i + 2], "little") for i in range(0, len(units), 2)]

    def first_ok(u):
        return u == 0x5F or 0x41 <= u <= 0x5A or 0x61 <= u <= 0x7A

    def other_ok(u):
        return first_ok(u) or 0x30 <= u <= 0x39
    if not units:
        return name
    out = []
    if first_ok(units[0]):
        out.append(units[0])
    else:
        out.append(0x5F)
        if chr(units[0]).isdecimal():
            out.append(units[0])
    out += [u if other_ok(u) else 0x5F for u in units[1:]]
    return b"".join(u.to_bytes(2, "little") for u in out).decode("utf-16-le")


def float32_json(value):
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    target = struct.pack(">f", value)
    for digits in range(1, 10):
        text = f"{value:.{digits}g}"
        if struct.pack(">f", float(text)) == target:
            return float(text)
    return value


def unscaled_bytes(number, scale):
    unscaled = int(number.scaleb(scale))
    length = max(1, (unscaled.bit_length() + 8) // 8)   # BigInteger.toByteArray: minimal two's complement
    return base64.b64encode(unscaled.to_bytes(length, "big", signed=True)).decode()


class Shaper:
    """Turns a fastavro datum into JsonConverter's JSON value of the same Connect value."""

    def __init__(self, schema):
        self.names = {}
        self.root = schema
        self.collect(schema, None)

    def collect(self, schema, space):
        """Every named type, by full and short name: a later field refers to it by name only."""
        if isinstance(schema, list):
            for branch in schema:
                self.collect(branch, space)
        if not isinstance(schema, dict):
            return
        kind = schema.get("type")
        if kind in ("record", "enum", "fixed"):
            name = schema["name"]
            namespace = schema.get("namespace", space)
            full = name if "." in name else (f"{namespace}.{name}" if namespace else name)
            self.names[full] = schema
            self.names.setdefault(name, schema)
            space = full.rsplit(".", 1)[0] if "." in full else None
            for field in schema.get("fields", []):
                self.collect(field["type"], space)
        elif kind == "array":
            self.collect(schema["items"], space)
        elif kind == "map":
            self.collect(schema["values"], space)
        elif isinstance(kind, (dict, list)):
            self.collect(kind, space)

    def shape(self, schema, value, space=None):
        if isinstance(schema, str):
            if schema in self.names:
                return self.shape(self.names[schema], value)
            if space and f"{space}.{schema}" in self.names:
                return self.shape(self.names[f"{space}.{schema}"], value)
            if schema not in PRIMITIVES:
                raise ValueError(f"unknown named type {schema}")
            return self.primitive(schema, value, None)
        if isinstance(schema, list):
            if value is None:
                return None
            branches = [b for b in schema if b != "null"]
            if len(branches) != 1:
                raise ValueError(f"a union of several non-null branches: {schema}")
            return self.shape(branches[0], value, space)
        kind = schema["type"]
        if kind in ("record", "enum", "fixed"):
            name = schema["name"]
            full = name if "." in name else (f"{schema.get('namespace', space)}.{name}" if schema.get("namespace", space) else name)
            self.names[full] = schema
            self.names.setdefault(name, schema)
            space = full.rsplit(".", 1)[0] if "." in full else None
        if kind == "record":
            return {f["name"]: self.shape(f["type"], value[f["name"]], space) for f in schema["fields"]}
        if kind == "array":
            return [self.shape(schema["items"], item, space) for item in value]
        if kind == "map":
            return {k: self.shape(schema["values"], v, space) for k, v in value.items()}
        if kind == "enum":
            return value
        if isinstance(kind, (dict, list)):
            return self.shape(kind, value, space)
        return self.primitive(kind, value, schema.get("logicalType"), schema)

    @staticmethod
    def primitive(kind, value, logical, schema=None):
        if value is None:
            return None
        if logical == "decimal":
            return unscaled_bytes(value, schema.get("scale", 0))
        if logical in ("date", "time-millis", "timestamp-millis"):
            if not isinstance(value, int):
                raise ValueError(f"{logical} not read as its number: {value!r}")
            return value
        if logical is not None and kind != "string":
            raise ValueError(f"unexpected logical type {logical}")
        if kind == "bytes":
            return base64.b64encode(value).decode()
        if kind == "float":
            return float32_json(value)
        if kind == "double":
            if math.isnan(value):
                return "NaN"
            if math.isinf(value):
                return "Infinity" if value > 0 else "-Infinity"
            return value
        if kind == "string" and isinstance(value, uuid.UUID):
            return str(value)
        return value


def read_masks(path):
    masks = []
    for line in open(path, encoding="utf-8").read().split("\n"):
        if not line or line.startswith("#"):
            continue
        pattern, replacement = line.split("\t")
        masks.append((re.compile(pattern), re.sub(r"\$([1-9])", r"\\g<\1>", replacement.replace("\\", "\\\\"))))
    return masks


def masked(obj, masks):
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    for pattern, replacement in masks:
        text = pattern.sub(replacement, text)
    return json.loads(text)


def expected_records(path, adjust):
    by_topic = {}
    for line in open(path, encoding="utf-8"):
        record = json.loads(line)
        out = {"topic": record["topic"]}
        for part in ("key", "value"):
            datum = record[part]
            if isinstance(datum, dict) and set(datum) == {"schema", "payload"}:
                datum = datum["payload"]
            if adjust and isinstance(datum, dict):
                if part == "key" and record["topic"] not in ("app.message", "app.transaction"):
                    datum = {adjusted_field_name(k): v for k, v in datum.items()}
                if part == "value":
                    for row in ("before", "after"):
                        if isinstance(datum.get(row), dict):
                            datum[row] = {adjusted_field_name(k): v for k, v in datum[row].items()}
            out[part] = datum
        by_topic.setdefault(record["topic"], []).append(out)
    return by_topic


def main():
    if len(sys.argv) not in (5, 6):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    bootstrap, registry_url, expected_path, masks_path = sys.argv[1:5]
    adjust = len(sys.argv) == 6 and sys.argv[5] == "avro"
    raw_temporal_logical_types()
    masks = read_masks(masks_path)
    expected = expected_records(expected_path, adjust)
    registry = SchemaRegistryClient({"url": registry_url})
    deserializer = AvroDeserializer(registry)   # the writer schema the id names, as any consumer reads
    schemas = {}

    def decoded(topic, field, data):
        if data is None:
            return None
        ctx = SerializationContext(topic, field)
        datum = deserializer(data, ctx)
        schema_id = struct.unpack(">I", data[1:5])[0]
        if schema_id not in schemas:
            schemas[schema_id] = json.loads(registry.get_schema(schema_id).schema_str)
        return Shaper(schemas[schema_id]).shape(schemas[schema_id], datum)

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"decode-avro-{uuid.uuid4()}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    topics = sorted(expected)
    consumer.assign([TopicPartition(t, 0, 0) for t in topics])
    got = {t: [] for t in topics}
    failures = []
    deadline = time.monotonic() + 120
    # Until every topic has at least its expected records, then what else is there (the high watermark).
    while time.monotonic() < deadline and any(len(got[t]) < len(expected[t]) for t in topics):
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            failures.append(f"consumer error: {message.error()}")
            break
        topic = message.topic()
        try:
            record = {"topic": topic, "key": decoded(topic, MessageField.KEY, message.key()),
                      "value": decoded(topic, MessageField.VALUE, message.value())}
        except Exception as error:   # a record the independent decoder cannot read is a difference
            failures.append(f"{topic} offset {message.offset()}: cannot decode: {error!r}")
            got[topic].append(None)
            continue
        got[topic].append(masked(record, masks))
    for topic in topics:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
        if high != len(expected[topic]):
            failures.append(f"{topic}: {high} records, expected {len(expected[topic])}")
        for index, (actual, wanted) in enumerate(zip(got[topic], expected[topic])):
            if actual != wanted:
                failures.append(f"{topic} record {index + 1}:\n  decoded  {json.dumps(actual, ensure_ascii=False)}\n"
                                f"  expected {json.dumps(wanted, ensure_ascii=False)}")
    consumer.close()
    count = sum(len(v) for v in got.values())
    for failure in failures:
        print(failure)
    print(f"decode_avro: {count} records decoded, {len(failures)} differences")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
