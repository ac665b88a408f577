#!/usr/bin/env bash
# Drain benchmark: how fast Swallow empties a replication backlog compared with the raw rate at which
# PostgreSQL decodes the same WAL.
#
#   scripts/bench-drain.sh [ROWS [ROW_BYTES]]   # default 200000 rows of ~150 B, in 1,000-row transactions
#
# With three slots created first, ROWS rows of about ROW_BYTES bytes (as text; an md5-hex payload stored
# uncompressed) are committed while nothing reads. Then
#  (a) pg_recvlogical (pgoutput, proto 1) drains slot `raw` into /dev/null up to the end position;
#  (b) `swallow run` drains slot `swallow` into a mock Kafka cluster running in a separate process
#      (so the broker's memory is not counted as Swallow's), until the slot's confirmed position —
#      which only moves once the broker acknowledged every event — reaches the end position;
#  (c) the same with delivery: exactly_once, and with events.format: avro (scripts/schema-registry/
#      test_registry.py as the registry), each from a slot of its own over the same WAL.
# Prints rows/s for both, the ratio, and Swallow's peak RSS (VmHWM). pg_recvlogical runs before and
# after Swallow (from two slots) and the faster run is the raw rate. scripts/bench.sh runs this at
# three row sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-200000}
row_bytes=${2:-150}
# shellcheck source=scripts/bench/setup.sh
source scripts/bench/setup.sh
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
start_mock
drain_run "$rows" "$row_bytes"
cat <<EOF2

| measure | value |
|---|---|
| rows (avg row size as text) | $drain_rows (${drain_row_bytes} B) |
| pg_recvlogical raw rate (faster of two runs) | $raw_rate rows/s (${raw_seconds}s) |
| swallow drain rate (to last ack) | $swallow_rate rows/s (${swallow_seconds}s) |
| ratio swallow / raw | $ratio |
| swallow peak RSS | $peak_mb MB |
| swallow drain rate, events.format avro (same WAL) | $avro_rate rows/s (${avro_seconds}s), $avro_ratio of JSON |
| swallow peak RSS, avro | $avro_peak_mb MB |
| average event bytes (key + value), JSON / Avro | $json_event_bytes / $avro_event_bytes |
EOF2
