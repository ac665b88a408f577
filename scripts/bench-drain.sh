#!/usr/bin/env bash
# Drain benchmark: how fast Swallow empties a replication backlog compared with the raw rate at which
# PostgreSQL decodes the same WAL.
#
#   scripts/bench-drain.sh [ROWS]     # default 200000 rows, committed in 1,000-row transactions
#
# With two slots created first, ROWS rows of ~150 bytes are committed while nothing reads. Then
#  (a) pg_recvlogical (pgoutput, proto 1) drains slot `raw` into /dev/null up to the end position;
#  (b) `swallow run` drains slot `swallow` into a mock Kafka cluster running in a separate process
#      (so the broker's memory is not counted as Swallow's), until the slot's confirmed position —
#      which only moves once the broker acknowledged every event — reaches the end position.
# Prints rows/s for both, the ratio, and Swallow's peak RSS (VmHWM). pg_recvlogical runs before and
# after Swallow (from two slots) and the faster run is the raw rate.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-200000}
# shellcheck source=scripts/bench/setup.sh
source scripts/bench/setup.sh
bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
$psql <<'SQL'
CREATE TABLE events (id bigint PRIMARY KEY, account int NOT NULL, kind text NOT NULL, amount numeric(12,2) NOT NULL,
                     created_at timestamptz NOT NULL, payload text NOT NULL);
CREATE PUBLICATION swallow FOR TABLE events;
SELECT pg_create_logical_replication_slot('raw', 'pgoutput');
SELECT pg_create_logical_replication_slot('raw_after', 'pgoutput');
SELECT pg_create_logical_replication_slot('swallow', 'pgoutput');
SQL
echo "committing $rows rows in 1000-row transactions..." >&2
$psql -c "
DO \$\$
BEGIN
  FOR batch IN 0..($rows - 1) / 1000 LOOP
    INSERT INTO events
    SELECT g, g % 1000, 'purchase', (g % 10000) / 100.0, now(), repeat(md5(g::text), 2) || 'order-line-note'
    FROM generate_series(batch * 1000 + 1, least((batch + 1) * 1000, $rows)) g;
    COMMIT;
  END LOOP;
END \$\$;"
end_lsn=$($psql -tAc "SELECT pg_current_wal_lsn()")
row_bytes=$($psql -tAc "SELECT avg(pg_column_size(e.*))::int FROM events e")

now() { date +%s.%N; }

# (a) The raw decode rate: pg_recvlogical drains its own slot. It runs once before and once after
# Swallow, and the faster run counts, so neither side profits from a warmer cache.
raw_drain() {
  local start
  start=$(now)
  "$bindir/pg_recvlogical" -h 127.0.0.1 -p "$port" -U postgres -d bench --slot "$1" --start --endpos "$end_lsn" \
    -o proto_version=1 -o publication_names=swallow --no-loop -f /dev/null
  awk "BEGIN {printf \"%.2f\", $(now) - $start}"
}
raw_seconds=$(raw_drain raw)

# (b) Swallow, into a mock cluster in its own process.
"$swallow" mock-kafka >"$work/mock.out" 2>"$work/mock.err" &
pids+=($!)
for _ in $(seq 1 50); do [ -s "$work/mock.out" ] && break; sleep 0.1; done
bootstrap=$(head -n 1 "$work/mock.out")
cat >"$work/swallow.yaml" <<YAML
postgres: {host: 127.0.0.1, port: $port, dbname: bench, user: postgres, sslmode: disable}
slot: {name: swallow, create: false}
publication: {name: swallow, create: false}
tables: [public.events]
topic_prefix: bench
kafka: {bootstrap_servers: "$bootstrap", properties: {}}
status_interval_ms: 100
log_level: warning
YAML
start=$(now)
"$swallow" run --config "$work/swallow.yaml" 2>"$work/swallow.log" &
swallow_pid=$!
pids+=($swallow_pid)
while :; do
  done_=$($psql -tAc "SELECT confirmed_flush_lsn >= '$end_lsn' FROM pg_replication_slots WHERE slot_name = 'swallow'")
  [ "$done_" = t ] && break
  kill -0 "$swallow_pid" 2>/dev/null || { echo "swallow exited:" >&2; cat "$work/swallow.log" >&2; exit 1; }
  sleep 0.02
done
swallow_seconds=$(awk "BEGIN {printf \"%.2f\", $(now) - $start}")
peak_kb=$(awk '/VmHWM/ {print $2}' "/proc/$swallow_pid/status")
kill -TERM "$swallow_pid"; wait "$swallow_pid" || true
raw_after_seconds=$(raw_drain raw_after)
raw_seconds=$(awk "BEGIN {print ($raw_after_seconds < $raw_seconds) ? $raw_after_seconds : $raw_seconds}")

raw_rate=$(awk "BEGIN {printf \"%d\", $rows / $raw_seconds}")
swallow_rate=$(awk "BEGIN {printf \"%d\", $rows / $swallow_seconds}")
ratio=$(awk "BEGIN {printf \"%.2f\", $swallow_rate / $raw_rate}")
cat <<EOF

| measure | value |
|---|---|
| rows (avg row size) | $rows (${row_bytes} B) |
| pg_recvlogical raw rate (faster of two runs) | $raw_rate rows/s (${raw_seconds}s) |
| swallow drain rate (to last ack) | $swallow_rate rows/s (${swallow_seconds}s) |
| ratio swallow / raw | $ratio |
| swallow peak RSS | $((peak_kb / 1024)) MB |
EOF
