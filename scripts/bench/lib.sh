# Shared by the benchmarks, sourced after scripts/bench/setup.sh ($swallow, $port, $psql, $work, $pids).
# Functions: start_mock, write_swallow_config, start_swallow, wait_confirmed, drain_run, rss_peak_mb,
# cpu_ticks.
# The binaries of the cluster setup.sh started (pg_recvlogical of the same version).
bindir=$(scripts/pg-cluster.sh bindir)
now() { date +%s.%N; }

# Starts `swallow mock-kafka` in its own process (its memory is not Swallow's); sets $mock_pid and
# $bootstrap.
start_mock() {
  "$swallow" mock-kafka >"$work/mock.out" 2>"$work/mock.err" &
  mock_pid=$!
  pids+=($mock_pid)
  for _ in $(seq 1 50); do [ -s "$work/mock.out" ] && break; sleep 0.1; done
  bootstrap=$(head -n 1 "$work/mock.out")
  [ -n "$bootstrap" ] || { echo "mock-kafka did not start:" >&2; cat "$work/mock.err" >&2; exit 1; }
}

# write_swallow_config FILE TABLE SLOT PUBLICATION [EXTRA_YAML [TOPIC_PREFIX]]: the configuration every
# benchmark uses (BENCH_KAFKA_PROPERTIES: extra kafka.properties entries, YAML flow style, to try one).
write_swallow_config() {
  cat >"$1" <<YAML
postgres: {host: 127.0.0.1, port: $port, dbname: bench, user: postgres, sslmode: disable}
slot: {name: $3, create: false}
publication: {name: $4, create: false}
tables: [$2]
topic_prefix: ${6:-bench}
kafka: {bootstrap_servers: "$bootstrap", properties: {${BENCH_KAFKA_PROPERTIES:-}}}
status_interval_ms: 100
log_level: warning
${5:-}
YAML
}

# start_swallow CONFIG LOG: runs `swallow run` in the background; sets $swallow_pid.
# BENCH_PERF_DIR: also records a CPU profile of that process (perf record -g, 999 Hz) into
# BENCH_PERF_DIR/<config name>.perf.data, for `perf report -i`; the figures of such a run are not comparable.
start_swallow() {
  env ${BENCH_SWALLOW_PRELOAD:+LD_PRELOAD=$BENCH_SWALLOW_PRELOAD} "$swallow" run --config "$1" 2>"$2" &
  swallow_pid=$!
  pids+=($swallow_pid)
  if [ -n "${BENCH_PERF_DIR:-}" ]; then
    mkdir -p "$BENCH_PERF_DIR"
    perf record -q -F 999 ${BENCH_PERF_CALLGRAPH:--g} -p "$swallow_pid" -o "$BENCH_PERF_DIR/$(basename "$1" .yaml).perf.data" 2>/dev/null &
  fi
}

# End positions are pg_current_wal_insert_lsn(), not pg_current_wal_lsn(): with synchronous_commit off
# the latter (the write position) can lie before the commit record just made, and the slot is confirmed
# past it (safely: the walsender reports the start of the commit record it is about to send) before the
# transaction's events even reach Swallow.
# wait_confirmed SLOT LSN: until the slot's confirmed position — which moves only once the broker
# acknowledged every event before it — reaches LSN. Fails if Swallow exits meanwhile.
wait_confirmed() {
  # One session polls inside the server: starting a psql for every poll took about a sixth of the
  # machine's CPU (measured with perf), which the run being measured lost.
  # client_connection_check_interval: should this psql be killed, its backend notices and ends the loop.
  $psql -c "SET client_connection_check_interval = 200" -c "DO \$\$ BEGIN
              LOOP
                EXIT WHEN (SELECT confirmed_flush_lsn >= '$2' FROM pg_replication_slots WHERE slot_name = '$1');
                PERFORM pg_sleep(0.005);
              END LOOP;
            END \$\$" &
  local waiter=$!
  # Until the first of the three ends; only the waiter may end first.
  wait -n "$waiter" "$swallow_pid" "$mock_pid" || true
  if kill -0 "$waiter" 2>/dev/null; then
    kill "$waiter" 2>/dev/null || true
    if ! kill -0 "$swallow_pid" 2>/dev/null; then echo "swallow exited:" >&2; cat "$work/swallow.log" >&2; exit 1; fi
    echo "the mock broker exited:" >&2; cat "$work/mock.err" >&2; exit 1
  fi
  wait "$waiter"
}

# cpu_ms_per_1k PID ROWS: the process's CPU time so far (all threads, start-up included) per 1,000 rows.
cpu_ms_per_1k() { awk -v t="$(cpu_ticks "$1")" -v hz="$(getconf CLK_TCK)" -v n="$2" 'BEGIN {printf "%.1f", t * 1000 / hz / (n / 1000)}'; }
thread_cpu() { for t in /proc/$1/task/*; do echo "$2 $(cat $t/comm) $(awk '{print $14+$15}' $t/stat)"; done >&2; }
rss_peak_mb() { awk '/VmHWM/ {printf "%d", $2 / 1024}' "/proc/$1/status"; }
# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Creates table $1 (rows of about $2 bytes as text: id, account, kind, amount, created_at and a payload of
# md5 hex, stored uncompressed) with publication $1; prints nothing.
create_events_table() {
  local table=$1 row_bytes=$2
  $psql <<SQL
CREATE TABLE $table (id bigint PRIMARY KEY, account int NOT NULL, kind text NOT NULL, amount numeric(12,2) NOT NULL,
                     created_at timestamptz NOT NULL, payload text NOT NULL);
-- Uncompressed (TOASTed out of line above 2 kB): the WAL and the events carry the full row size.
ALTER TABLE $table ALTER payload SET STORAGE EXTERNAL;
CREATE PUBLICATION $table FOR TABLE $table;
SQL
}

# The payload expression for a row of about $1 bytes (the other columns take about 70 as text).
payload_sql() {
  local md5s=$(( ($1 - 70 + 16) / 32 ))
  [ "$md5s" -lt 1 ] && md5s=1
  echo "repeat(md5(g::text), $md5s)"
}

# average_event_bytes TOPIC: the mean key + value size of the earliest (up to 20,000) records TOPIC still
# holds on the mock broker (it keeps the last 5 MiB of a partition: OFFSET_BEGINNING, not offset 0), read
# with confluent-kafka (scripts/install-deps.sh installs it).
average_event_bytes() {
  PYTHONPATH=$(. scripts/pg-versions.sh && confluent_kafka_dir) python3 - "$bootstrap" "$1" <<'PY'
import sys
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
consumer = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "bench-bytes", "enable.auto.commit": False,
                     "auto.offset.reset": "earliest"})
partitions = consumer.list_topics(sys.argv[2], timeout=30).topics[sys.argv[2]].partitions
consumer.assign([TopicPartition(sys.argv[2], p, OFFSET_BEGINNING) for p in partitions])
count = total = idle = 0
while count < 20000 and idle < 10:
    messages = consumer.consume(1000, timeout=1)
    idle = 0 if messages else idle + 1
    for m in messages:
        if m.error() is None:
            count += 1
            total += len(m.key() or b"") + len(m.value() or b"")
consumer.close()
print(total // count if count else 0)
PY
}

# drain_run ROWS ROW_BYTES: the drain benchmark for one row size (see scripts/bench-drain.sh). With
# every slot created first, ROWS rows are committed in 1,000-row transactions while nothing reads;
# pg_recvlogical drains one slot before and one after the Swallow runs, each of which drains a slot of its
# own into the mock broker. The Swallow configurations run BENCH_DRAIN_ROUNDS times (default 3) in turned
# orders; each figure is the median over the rounds (a ratio: of the rates in the same round).
# Sets drain_rows drain_row_bytes raw_rate raw_seconds swallow_rate swallow_seconds ratio peak_mb cpu_ms,
# eos_rate eos_seconds eos_ratio eos_peak_mb eos_cpu_ms for the exactly_once run, avro_rate avro_seconds
# avro_ratio avro_peak_mb avro_cpu_ms for the events.format: avro run, NAME_rounds (each round's ratio,
# slash-separated), and json_event_bytes avro_event_bytes (average key + value bytes on the broker).
# BENCH_MASKING: also drain the same WAL with column masking on (docs/transforms.md):
# `1` for the default masks (the text column `kind` hashed with SHA-256 v2, `payload` truncated to 32
# characters), or an `events` section of your own in YAML flow style; sets mask_rate mask_seconds
# mask_ratio (of at_least_once's) mask_peak_mb mask_cpu_ms.
# BENCH_OUTBOX=1: also drain it through the outbox router (docs/outbox.md) with the table
# as the outbox (events routed by `kind` to bench_outbox.<kind>, keyed by `account`, the `payload` column
# as the value, `id` as the event id header); sets outbox_rate outbox_seconds outbox_ratio (of
# at_least_once's) outbox_peak_mb outbox_cpu_ms.
bench_outbox_section='outbox: {tables: [TABLE], route.by.field: kind, route.topic.replacement: "bench_outbox.$${routedByValue}", table.field.event.id: id, table.field.event.key: account, table.field.event.payload: payload}'

# drain_variant NAME ROUND SLOT YAML TOPIC_PREFIX: inside drain_run, drains its WAL once more from SLOT with
# YAML added to the configuration, into topics under TOPIC_PREFIX, until SLOT is confirmed at the end; keeps
# the seconds, the peak RSS and the CPU per 1k rows under "NAME,ROUND" in drain_seconds, drain_peak_mb and
# drain_cpu_ms.
drain_variant() {
  local name=$1 round=$2 slot=$3 yaml=$4 prefix=$5 start
  write_swallow_config "$work/$table-$name.yaml" "public.$table" "$slot" "$table" "$yaml" "$prefix"
  start=$(now)
  start_swallow "$work/$table-$name.yaml" "$work/swallow-$name.log"
  wait_confirmed "$slot" "$end_lsn"
  drain_seconds[$name,$round]=$(awk "BEGIN {printf \"%.2f\", $(now) - $start}")
  drain_peak_mb[$name,$round]=$(rss_peak_mb "$swallow_pid")
  drain_cpu_ms[$name,$round]=$(cpu_ms_per_1k "$swallow_pid" "$rows")
  if [ -n "${BENCH_THREADS:-}" ]; then thread_cpu "$swallow_pid" "$name-swallow"; thread_cpu "$mock_pid" "$name-mock"; fi
  # BENCH_DUMP_DIR: keep each run's /metrics (for exactly_once: transactions, commit times).
  if [ -n "${BENCH_DUMP_DIR:-}" ]; then
    mkdir -p "$BENCH_DUMP_DIR"
    curl -sf "http://$drain_http/metrics" >"$BENCH_DUMP_DIR/drain-$target-$name-$round.metrics" || true
  fi
  kill -TERM "$swallow_pid"; wait "$swallow_pid" || true
}

# median NUMBER...: the median (the mean of the middle two for an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {printf "%.2f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

bench_masking_events='{column.mask.hash.v2.SHA-256.with.salt.bench: "public\\.drain_.*\\.kind", column.truncate.to.32.chars: "public\\.drain_.*\\.payload"}'
drain_run() {
  local rows=$1 target=$2 table="drain_$2" start
  create_events_table "$table" "$target"
  drain_rounds=${BENCH_DRAIN_ROUNDS:-3}
  local slot_names=(raw raw_after) name round
  for round in $(seq 1 "$drain_rounds"); do
    slot_names+=("swallow_r$round" "eos_r$round" "avro_r$round")
    [ -n "${BENCH_MASKING:-}" ] && slot_names+=("mask_r$round")
    [ -n "${BENCH_OUTBOX:-}" ] && slot_names+=("outbox_r$round")
  done
  for name in "${slot_names[@]}"; do
    $psql -c "SELECT pg_create_logical_replication_slot('${table}_$name', 'pgoutput')" >/dev/null
  done
  echo "drain: committing $rows rows of ~$target B in 1000-row transactions..." >&2
  $psql -c "
DO \$\$
BEGIN
  FOR batch IN 0..($rows - 1) / 1000 LOOP
    INSERT INTO $table
    SELECT g, g % 1000, 'purchase', (g % 10000) / 100.0, now(), $(payload_sql "$target")
    FROM generate_series(batch * 1000 + 1, least((batch + 1) * 1000, $rows)) g;
    COMMIT;
  END LOOP;
END \$\$;"
  local end_lsn
  end_lsn=$($psql -tAc "SELECT pg_current_wal_insert_lsn()")
  drain_rows=$rows
  drain_row_bytes=$($psql -tAc "SELECT avg(octet_length(e::text))::int FROM (SELECT * FROM $table LIMIT 1000) e")

  raw_drain() {
    local start
    start=$(now)
    "$bindir/pg_recvlogical" -h 127.0.0.1 -p "$port" -U postgres -d bench --slot "$1" --start --endpos "$end_lsn" \
      -o proto_version=1 -o publication_names="$table" --no-loop -f /dev/null
    awk "BEGIN {printf \"%.2f\", $(now) - $start}"
  }
  # The raw decode rate runs once before and once after Swallow; the faster counts, so neither side
  # profits from a warmer cache.
  local raw_before raw_after
  raw_before=$(raw_drain "${table}_raw")

  # The Swallow configurations, each with the YAML it adds and its topic prefix: at_least_once JSON (the
  # baseline, "swallow"), exactly_once, Avro, and with BENCH_MASKING / BENCH_OUTBOX masking and the outbox.
  local registry_pid names=(swallow eos avro) round name order
  declare -gA drain_seconds=() drain_peak_mb=() drain_cpu_ms=()
  declare -A extra=() prefix=()
  drain_http="127.0.0.1:$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  extra[swallow]="http: {listen: \"$drain_http\"}" prefix[swallow]=bench
  extra[eos]="delivery: exactly_once
http: {listen: \"$drain_http\"}" prefix[eos]=bench_eos
  # Avro's schemas are registered with the tests' registry (scripts/schema-registry/test_registry.py: one
  # registration per shape, so its speed hardly counts).
  rm -f "$work/registry.port"
  python3 scripts/schema-registry/test_registry.py --port-file "$work/registry.port" >"$work/registry.log" 2>&1 &
  registry_pid=$!
  pids+=($registry_pid)
  for _ in $(seq 1 100); do [ -s "$work/registry.port" ] && break; sleep 0.1; done
  [ -s "$work/registry.port" ] || { echo "the test Schema Registry did not start:" >&2; cat "$work/registry.log" >&2; exit 1; }
  extra[avro]="events: {format: avro}
schema_registry: {url: \"http://127.0.0.1:$(cat "$work/registry.port")\"}
http: {listen: \"$drain_http\"}" prefix[avro]=bench_avro
  if [ -n "${BENCH_MASKING:-}" ]; then
    local mask_events=$BENCH_MASKING
    [ "$mask_events" = 1 ] && mask_events=$bench_masking_events
    names+=(mask) extra[mask]="events: $mask_events
http: {listen: \"$drain_http\"}" prefix[mask]=bench_mask
  fi
  if [ -n "${BENCH_OUTBOX:-}" ]; then
    names+=(outbox) extra[outbox]="${bench_outbox_section/TABLE/public.$table}
http: {listen: \"$drain_http\"}" prefix[outbox]=bench
  fi
  # Rounds: every configuration drains the same WAL once per round, each time from a slot of its own (made
  # before the rows were committed) and into topics of its own (an exactly_once run must not find an
  # earlier run's records in its partitions' tails). The order turns round by round, so no configuration
  # always runs first on a cold cache or last on a full broker.
  for round in $(seq 1 "$drain_rounds"); do
    order=("${names[@]:$(( (round - 1) % ${#names[@]} ))}" "${names[@]:0:$(( (round - 1) % ${#names[@]} ))}")
    echo "drain: round $round of $drain_rounds: ${order[*]}" >&2
    for name in "${order[@]}"; do
      drain_variant "$name" "$round" "${table}_${name}_r$round" "${extra[$name]}" \
        "${prefix[$name]}$([ "$round" -gt 1 ] && [ "$name" != outbox ] && echo "_r$round")"
    done
  done
  kill "$registry_pid" 2>/dev/null || true
  # Average key + value bytes of an event as Kafka got it, JSON and Avro, from the first round's records.
  json_event_bytes=$(average_event_bytes "bench.public.$table")
  avro_event_bytes=$(average_event_bytes "bench_avro.public.$table")
  raw_after=$(raw_drain "${table}_raw_after")
  raw_seconds=$(awk "BEGIN {print ($raw_after < $raw_before) ? $raw_after : $raw_before}")
  raw_rate=$(awk "BEGIN {printf \"%d\", $rows / $raw_seconds}")
  # Per configuration: the median seconds and CPU, the highest peak RSS, and the median over the rounds of
  # its rate over the baseline's in the same round (NAME_ratio; the baseline's own is over the raw rate).
  local seconds ratios cpus peaks
  for name in "${names[@]}"; do
    seconds=() ratios=() cpus=() peaks=()
    for round in $(seq 1 "$drain_rounds"); do
      seconds+=("${drain_seconds[$name,$round]}") cpus+=("${drain_cpu_ms[$name,$round]}") peaks+=("${drain_peak_mb[$name,$round]}")
      ratios+=("$(awk "BEGIN {printf \"%.4f\", ${drain_seconds[swallow,$round]} / ${drain_seconds[$name,$round]}}")")
    done
    printf -v "${name}_seconds" '%s' "$(median "${seconds[@]}")"
    printf -v "${name}_cpu_ms" '%s' "$(median "${cpus[@]}")"
    printf -v "${name}_peak_mb" '%s' "$(printf '%s\n' "${peaks[@]}" | sort -n | tail -n 1)"
    printf -v "${name}_rate" '%s' "$(awk "BEGIN {printf \"%d\", $rows / $(median "${seconds[@]}")}")"
    printf -v "${name}_ratio" '%s' "$(median "${ratios[@]}")"
    printf -v "${name}_rounds" '%s' "$(printf '%s ' "${ratios[@]}" | awk '{for (i = 1; i <= NF; i++) printf "%s%.2f", (i > 1 ? "/" : ""), $i}')"
  done
  ratio=$(awk "BEGIN {printf \"%.2f\", $swallow_rate / $raw_rate}")
  peak_mb=$swallow_peak_mb cpu_ms=$swallow_cpu_ms
  # Free the WAL for the next run.
  $psql -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE '${table}_%';
            DROP TABLE $table; DROP PUBLICATION $table; CHECKPOINT" >/dev/null
}
