#!/usr/bin/env bash
# Snapshot benchmark: how fast Swallow's initial snapshot copies a table into Kafka compared with the raw
# rate at which PostgreSQL reads the same table.
#
#   scripts/bench-snapshot.sh [ROWS]     # default 1000000 rows of ~150 bytes
#
# ROWS rows are loaded with one INSERT ... SELECT, then VACUUM ANALYZE and a CHECKPOINT (so no checkpoint
# of the load's dirty pages lands in a measurement). Then
#  (a) `COPY (SELECT * FROM events) TO '/dev/null'`, a server-side COPY run as the superuser, reads the
#      whole table (twice; the faster run is the raw rate);
#  (b) for 1, 2 and 4 snapshot threads, `swallow run` with `snapshot.mode: initial_only` (from a fresh
#      slot and state dir) copies the table into a mock Kafka cluster running in a separate process (so
#      the broker's memory is not counted as Swallow's) and exits once the broker acknowledged every
#      snapshot record. Its time is the wall clock from start to exit, start-up included; its peak RSS is
#      the highest VmHWM seen while polling /proc every 50 ms. The record count on the topic (from the
#      partitions' end offsets: the mock cluster keeps only the last few MB of each) is then checked
#      with `swallow consume` if reading it back takes less than VERIFY_TIMEOUT seconds (default 30;
#      0 skips the check); otherwise Swallow's exit status is what counts.
#  (c) the machine's floor (see below): the CPU Postgres needs to serve the COPY to a client, plus what
#      librdkafka alone needs to produce as many prebuilt records of the snapshot's size, bound the rate
#      any snapshot can reach when Postgres, Swallow and the broker share this machine's cores.
# Prints rows/s for each, the ratio to the raw rate and the peak RSS, against the targets: ratio >= 0.5
# with 2 threads, peak RSS < 150 MB. A run that exits non-zero, outlives SNAPSHOT_TIMEOUT seconds
# (default 900) or leaves a wrong record count fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
verify_timeout=${VERIFY_TIMEOUT:-30}
snapshot_timeout=${SNAPSHOT_TIMEOUT:-900}
# shellcheck source=scripts/bench/setup.sh
source scripts/bench/setup.sh
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
echo "loading $rows rows..." >&2
$psql <<SQL
CREATE TABLE events (id bigint PRIMARY KEY, account int NOT NULL, kind text NOT NULL, amount numeric(12,2) NOT NULL,
                     created_at timestamptz NOT NULL, payload text NOT NULL);
INSERT INTO events
SELECT g, g % 1000, 'purchase', (g % 10000) / 100.0, now(), repeat(md5(g::text), 2) || 'order-line-note'
FROM generate_series(1, $rows) g;
VACUUM ANALYZE events;
CHECKPOINT;
CREATE PUBLICATION swallow FOR TABLE events;
SQL
row_bytes=$($psql -tAc "SELECT avg(pg_column_size(e.*))::int FROM events e")
table_mb=$($psql -tAc "SELECT pg_table_size('events') / (1024 * 1024)")
echo "average row size: $row_bytes B (table: $table_mb MB)" >&2

# (a) The raw read rate: the server formats every row and writes it to /dev/null, nothing crosses the
# network. Two runs, the faster counts.
raw_copy() {
  local start
  start=$(now)
  $psql -c "COPY (SELECT * FROM events) TO '/dev/null'" >/dev/null
  awk "BEGIN {printf \"%.3f\", $(now) - $start}"
}
raw_first=$(raw_copy)
raw_second=$(raw_copy)
raw_seconds=$(awk "BEGIN {print ($raw_second < $raw_first) ? $raw_second : $raw_first}")
raw_rate=$(awk "BEGIN {printf \"%d\", $rows / $raw_seconds}")
echo "raw COPY: ${raw_first}s, ${raw_second}s -> $raw_rate rows/s" >&2

# (c) The machine's floor: the CPU the other parties need per row, whatever Swallow does. Postgres
# serving the same COPY to a client (server and client CPU, from /proc/stat, as the whole machine's busy
# time while it runs), and librdkafka alone producing the same number of prebuilt records of the
# snapshot's size with Swallow's producer settings (scripts/bench/produce-floor.c) into a mock broker
# process (whose CPU is read from /proc/PID/stat). With every core busy, no snapshot can beat
# cores / (those CPU seconds per row), and neither can its ratio to the raw rate.
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
ticks_per_second=$(getconf CLK_TCK)
cores=$(nproc)
busy_before=$(busy_ticks)
copy_start=$(now)
$psql -c "COPY (SELECT * FROM events) TO STDOUT" >/dev/null
copy_seconds=$(awk "BEGIN {printf \"%.3f\", $(now) - $copy_start}")
copy_cpu=$(awk "BEGIN {printf \"%.2f\", ($(busy_ticks) - $busy_before) / $ticks_per_second}")
echo "COPY to a client: ${copy_seconds}s, ${copy_cpu} CPU s" >&2
floor_bin="$work/produce-floor"
${CC:-cc} -O2 -o "$floor_bin" scripts/bench/produce-floor.c -lrdkafka
start_mock
floor_mock=$mock_pid
value_bytes=${FLOOR_VALUE_BYTES:-600}
mock_before=$(cpu_ticks "$floor_mock")
floor_line=$("$floor_bin" "$bootstrap" "$rows" "$value_bytes")
mock_cpu=$(awk "BEGIN {printf \"%.2f\", ($(cpu_ticks "$floor_mock") - $mock_before) / $ticks_per_second}")
kill -TERM "$floor_mock"; wait "$floor_mock" || true
producer_rate=$(sed -E 's/.*rate=([0-9]+).*/\1/' <<<"$floor_line")
producer_cpu=$(sed -E 's/.*cpu_seconds=([0-9.]+).*/\1/' <<<"$floor_line")
echo "librdkafka alone: $floor_line; mock broker ${mock_cpu} CPU s" >&2
floor_rate=$(awk "BEGIN {printf \"%d\", $cores * $rows / ($copy_cpu + $producer_cpu + $mock_cpu)}")
floor_ratio=$(awk "BEGIN {printf \"%.2f\", $floor_rate / $raw_rate}")

# Prints the highest VmHWM (kB) of process $1 seen while it lives, polling every 50 ms. Past
# $snapshot_timeout seconds it stops the process with SIGTERM and creates the file $2.
peak_rss() {
  local pid=$1 timeout_marker=$2 peak=0 key value rest
  local deadline=$((SECONDS + snapshot_timeout))
  while [ -e "/proc/$pid" ]; do
    while read -r key value rest; do
      if [ "$key" = VmHWM: ] && [ "$value" -gt "$peak" ]; then peak=$value; fi
    done 2>/dev/null <"/proc/$pid/status" || true
    if [ "$SECONDS" -ge "$deadline" ] && [ ! -e "$timeout_marker" ]; then
      touch "$timeout_marker"
      kill -TERM "$pid" 2>/dev/null || true
    fi
    sleep 0.05
  done
  echo "$peak"
}

# Records on a topic, from `swallow consume` lines (`topic[partition]@offset key=... value=...`).
count_records() {
  awk '{ split($1, at, "@"); if (!(at[1] in last) || at[2] + 0 > last[at[1]]) last[at[1]] = at[2] + 0 }
       END { n = 0; for (p in last) n += last[p] + 1; print n }'
}

# (b) Swallow's snapshot with 1, 2 and 4 threads, each from a fresh slot and state dir into a fresh mock
# cluster in its own process, on its own topic prefix.
results=()
for threads in 1 2 4; do
  $psql -tAc "SELECT pg_drop_replication_slot('swallow')
              WHERE EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = 'swallow')" >/dev/null
  rm -rf "$work/state-$threads"
  start_mock
  topic=bench$threads.public.events
  cat >"$work/swallow-$threads.yaml" <<YAML
postgres: {host: 127.0.0.1, port: $port, dbname: bench, user: postgres, sslmode: disable}
slot: {name: swallow, create: true}
publication: {name: swallow, create: false}
tables: [public.events]
topic_prefix: bench$threads
kafka: {bootstrap_servers: "$bootstrap", properties: {}}
log_level: info
snapshot:
  mode: initial_only
  max_threads: $threads
state_dir: $work/state-$threads
YAML
  echo "swallow snapshot, $threads thread(s)..." >&2
  start=$(now)
  "$swallow" run -c "$work/swallow-$threads.yaml" >"$work/swallow-$threads.log" 2>&1 &
  swallow_pid=$!
  pids+=("$swallow_pid")
  peak_rss "$swallow_pid" "$work/timeout-$threads" >"$work/peak-$threads" &
  sampler_pid=$!
  pids+=("$sampler_pid")
  status=0
  wait "$swallow_pid" || status=$?
  end=$(now)
  wait "$sampler_pid"
  if [ -e "$work/timeout-$threads" ]; then
    echo "swallow ($threads threads) still running after ${snapshot_timeout}s; stopped it:" >&2
    cat "$work/swallow-$threads.log" >&2; exit 1
  fi
  if [ "$status" -ne 0 ]; then
    echo "swallow ($threads threads) exited with status $status:" >&2
    cat "$work/swallow-$threads.log" >&2; exit 1
  fi
  seconds=$(awk "BEGIN {printf \"%.3f\", $end - $start}")
  peak_kb=$(cat "$work/peak-$threads")

  # The record count on the topic. The mock cluster keeps only the last ~5 MB of each partition (older
  # records are dropped, as by retention), so counting consumed lines would undercount: the count is the
  # sum over partitions of the last offset + 1 (one offset per record; the producer is idempotent and
  # not transactional, so there are no control records). consume waits up to VERIFY_TIMEOUT seconds for
  # the topic, then reads until every partition is at its end or VERIFY_TIMEOUT seconds pass, and exits
  # 0 either way: a short count is only an error if it came before that deadline. (A missing topic
  # fails consume; `timeout` is a backstop.)
  verified="not checked"
  if [ "$verify_timeout" -gt 0 ]; then
    consume_start=$(now)
    consume_status=0
    timeout $((verify_timeout + 15)) "$swallow" consume --bootstrap-servers "$bootstrap" --topic "$topic" \
      --wait-ms $((verify_timeout * 1000)) 2>"$work/consume-$threads.err" | count_records >"$work/count-$threads" \
      || consume_status=$?
    consume_seconds=$(awk "BEGIN {printf \"%d\", $(now) - $consume_start}")
    count=$(tr -d ' ' <"$work/count-$threads")
    if [ "$consume_status" -ne 0 ] && [ "$consume_status" -ne 124 ]; then
      echo "swallow consume $topic failed (status $consume_status):" >&2; cat "$work/consume-$threads.err" >&2; exit 1
    elif [ "$count" -gt "$rows" ] || { [ "$count" -lt "$rows" ] && [ "$consume_seconds" -lt "$verify_timeout" ]; }; then
      echo "$topic holds $count records after swallow ($threads threads) exited 0; expected $rows" >&2; exit 1
    elif [ "$count" -eq "$rows" ]; then
      verified="$count records"
    else
      verified="skipped (reading back took over ${verify_timeout}s)"
    fi
  fi
  kill -TERM "$mock_pid"; wait "$mock_pid" || true

  rate=$(awk "BEGIN {printf \"%d\", $rows / $seconds}")
  ratio=$(awk "BEGIN {printf \"%.2f\", $rate / $raw_rate}")
  echo "  ${seconds}s, $rate rows/s, ratio $ratio, peak RSS $((peak_kb / 1024)) MB, topic: $verified" >&2
  results+=("$threads|$seconds|$rate|$ratio|$peak_kb|$verified")
done

pass() { if awk "BEGIN {exit !($1)}"; then echo PASS; else echo MISS; fi; }
cat <<EOF

rows: $rows (average row size ${row_bytes} B, table $table_mb MB)
raw COPY (SELECT * FROM events) TO '/dev/null' (faster of two runs): $raw_rate rows/s (${raw_seconds}s)

The machine's floor ($cores cores shared by Postgres, Swallow and the broker):
- COPY to a client: ${copy_seconds}s, ${copy_cpu} CPU s (server and client)
- librdkafka alone, $rows prebuilt records of $value_bytes B: $producer_rate records/s, ${producer_cpu} CPU s; mock broker ${mock_cpu} CPU s
- best possible snapshot with every core busy and no cost in Swallow itself: $floor_rate rows/s, ratio $floor_ratio

| threads | seconds | rows/s | ratio vs raw COPY | peak RSS | topic check | ratio >= 0.5 (2 threads) | RSS < 150 MB |
|---|---|---|---|---|---|---|---|
EOF
for result in "${results[@]}"; do
  IFS='|' read -r threads seconds rate ratio peak_kb verified <<<"$result"
  ratio_check="n/a"
  [ "$threads" = 2 ] && ratio_check=$(pass "$ratio >= 0.5")
  echo "| $threads | $seconds | $rate | $ratio | $((peak_kb / 1024)) MB | $verified | $ratio_check | $(pass "$peak_kb < 150 * 1024") |"
done
cat <<EOF

Targets: ratio >= 0.5 with 2 threads; peak RSS < 150 MB with any thread count.
EOF
