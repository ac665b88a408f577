#!/usr/bin/env bash
# The performance benchmark: one markdown table of drain, steady-state and memory figures.
#
#   scripts/bench.sh [drain|steady|memory|all ...]     # default: drain steady (memory takes ~10 min more)
#
# Everything runs on this machine: a throwaway PostgreSQL (fsync, synchronous_commit and
# full_page_writes off; see scripts/pg-cluster.sh), a release `swallow`, and the mock Kafka broker in its
# own process (`swallow mock-kafka`, so its memory is not Swallow's). Swallow runs with its defaults
# (max_in_flight_events 20000, max_in_flight_bytes 16 MiB); a fresh process per measurement, so peak
# RSS (VmHWM) and the /status latency window belong to that measurement alone.
#
# drain   (Also drained a second time, from a slot made at the same point, with delivery: exactly_once into
#         bench_eos.* topics: the rate is given as a fraction of at_least_once's on the same WAL. And a
#         third time with events.format: avro into bench_avro.* topics, schemas in
#         scripts/schema-registry/test_registry.py: the rate as a fraction of JSON's, and the average
#         key + value bytes of an event on the broker, JSON and Avro. With BENCH_MASKING=1 (or an
#         `events` section in YAML flow style) once more with column masking, into bench_mask.* topics,
#         and with BENCH_OUTBOX=1 once more through the outbox router, into bench_outbox.* topics, each
#         as a fraction of at_least_once's: see scripts/bench/lib.sh. Every configuration drains the WAL
#         BENCH_DRAIN_ROUNDS times (3), each from a slot and into topics of its own, in an order that
#         turns each round; rates and CPU are medians, ratios the median of each round's ratio, and the
#         rounds' own ratios are printed: a single drain of a few seconds varies ±10% on a 2-core machine.)
#         Rows of ~100 B, ~1 KB and ~10 KB as text (md5-hex payload stored uncompressed), committed in
#         1,000-row transactions while nothing reads; pg_recvlogical drains the backlog into /dev/null
#         (the raw decoding rate, faster of a run before and one after Swallow) and Swallow drains it
#         into the broker until its slot is confirmed at the end position (see scripts/bench-drain.sh).
#         CPU ms per 1k events: all of the Swallow process's CPU time (start-up included) per 1,000 rows.
#         Row counts: DRAIN_ROWS_100 (1000000), DRAIN_ROWS_1K (600000), DRAIN_ROWS_10K (100000): each
#         drain lasts a few seconds, so Swallow's start-up (connecting, the catalog, the first metadata
#         request; pg_recvlogical has none of it) weighs little.
# steady  pgbench offers 1k, 10k and 50k rows/s for STEADY_SECONDS (30) s, with delivery at_least_once and
#         then exactly_once (STEADY_RUNS: "MODE:RATE ..."; exactly_once writes to bench_eos.* topics): transactions of
#         one INSERT of 10 rows of ~100 B (`-R` = rate / 10 transactions per second, 4 clients, 2
#         threads; synchronous_commit on for these sessions, see below). Achieved rows/s counts the rows
#         committed. Commit-to-ack p50/p99/max are Swallow's
#         `/status` commit_to_ack_ms (PostgreSQL commit timestamp to the broker's acknowledgement of
#         the transaction's last event, same clock), read once the slot is confirmed at the end of the
#         load; one warm-up transaction, confirmed before the load, is in the window too.
#         CPU per 1,000 events is Swallow's utime+stime (/proc/PID/stat, all its threads, librdkafka's
#         included) from the start of the load until that confirmation, divided by the rows.
# memory  One transaction of 2,000,000 rows, then a burst of 10,000,000 rows (10,000-row transactions
#         committed as fast as one session can) while Swallow streams; peak RSS, and the check that every
#         event was produced (swallow_events_total) and acknowledged (slot confirmed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
sections=("$@")
[ ${#sections[@]} -eq 0 ] && sections=(drain steady)
[ "${sections[0]}" = all ] && sections=(drain steady memory)
for section in "${sections[@]}"; do
  case $section in drain|steady|memory) ;; *) echo "unknown section $section (drain, steady, memory, all)" >&2; exit 2 ;; esac
done
# shellcheck source=scripts/bench/setup.sh
source scripts/bench/setup.sh
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
start_mock
rows_out=()
row() { rows_out+=("| $1 | $2 | $3 | $4 | $5 | $6 | $7 | $8 | $9 |"); }
fmt() { printf "%'d" "$1"; }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_streaming_swallow TABLE [DELIVERY]: a slot and a Swallow with /status streaming TABLE (publication
# TABLE), with `delivery: DELIVERY` (at_least_once by default; exactly_once writes to bench_eos.* topics);
# sets $http and $swallow_pid.
start_streaming_swallow() {
  local table=$1 delivery=${2:-at_least_once} prefix=bench
  [ "$delivery" = exactly_once ] && prefix=bench_eos
  $psql -c "SELECT pg_create_logical_replication_slot('${table}_swallow', 'pgoutput')" >/dev/null
  http="127.0.0.1:$(free_port)"
  write_swallow_config "$work/$table.yaml" "public.$table" "${table}_swallow" "$table" "http: {listen: \"$http\"}
delivery: $delivery" "$prefix"
  start_swallow "$work/$table.yaml" "$work/swallow.log"
  for _ in $(seq 1 300); do
    curl -sf "http://$http/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "swallow did not become ready:" >&2; cat "$work/swallow.log" >&2; exit 1
}

stop_swallow() {
  kill -TERM "$swallow_pid"; wait "$swallow_pid" || true
  $psql -c "SELECT pg_drop_replication_slot('$1_swallow')" >/dev/null
}

# Events Swallow produced for TABLE (op c), from /metrics.
produced_events() {
  curl -sf "http://$http/metrics" | awk -v t="public.$1" '/^swallow_events_total\{/ && index($0, "table=\"" t "\"") && index($0, "op=\"c\"") {n += $NF} END {printf "%d", n}'
}

if [[ " ${sections[*]} " == *" drain "* ]]; then
  for size in 100 1000 10000; do
    case $size in 100) n=${DRAIN_ROWS_100:-1000000} ;; 1000) n=${DRAIN_ROWS_1K:-600000} ;; 10000) n=${DRAIN_ROWS_10K:-100000} ;; esac
    drain_run "$n" "$size"
    row drain "backlog of $(fmt "$n") rows of ${drain_row_bytes} B" "$(fmt "$swallow_rate") (${swallow_seconds} s)" \
      "$(fmt "$raw_rate") (${raw_seconds} s)" "$ratio" "—" "$cpu_ms" "$peak_mb MB" "slot confirmed at the end"
    row "drain, exactly_once" "the same WAL from slots of its own" "$(fmt "$eos_rate") (${eos_seconds} s)" \
      "—" "$eos_ratio of at_least_once (rounds $eos_rounds)" "—" "$eos_cpu_ms" "$eos_peak_mb MB" "slot confirmed at the end"
    row "drain, avro" "the same WAL; event bytes JSON $json_event_bytes, Avro $avro_event_bytes" \
      "$(fmt "$avro_rate") (${avro_seconds} s)" "—" "$avro_ratio of JSON (rounds $avro_rounds)" "—" "$avro_cpu_ms" "$avro_peak_mb MB" \
      "slot confirmed at the end"
    if [ -n "${BENCH_MASKING:-}" ]; then
      row "drain, masking" "the same WAL, masks on" "$(fmt "$mask_rate") (${mask_seconds} s)" \
        "—" "$mask_ratio of at_least_once (rounds $mask_rounds)" "—" "$mask_cpu_ms" "$mask_peak_mb MB" "slot confirmed at the end"
    fi
    if [ -n "${BENCH_OUTBOX:-}" ]; then
      row "drain, outbox" "the same WAL, through the outbox router" "$(fmt "$outbox_rate") (${outbox_seconds} s)" \
        "—" "$outbox_ratio of at_least_once (rounds $outbox_rounds)" "—" "$outbox_cpu_ms" "$outbox_peak_mb MB" "slot confirmed at the end"
    fi
  done
fi

if [[ " ${sections[*]} " == *" steady "* ]]; then
  create_events_table steady 100
  $psql -c "CREATE SEQUENCE steady_id OWNED BY steady.id; ALTER TABLE steady ALTER id SET DEFAULT nextval('steady_id'),
            ALTER created_at SET DEFAULT now()"
  cat >"$work/load.sql" <<'SQL'
INSERT INTO steady (account, kind, amount, payload)
SELECT (random() * 1000)::int, 'purchase', (random() * 10000)::int / 100.0, md5(random()::text) FROM generate_series(1, 10);
SQL
  seconds=${STEADY_SECONDS:-30}
  for mode_rate in ${STEADY_RUNS:-at_least_once:1000 at_least_once:10000 at_least_once:50000 exactly_once:1000 exactly_once:10000 exactly_once:50000}; do
    mode=${mode_rate%%:*} rate=${mode_rate##*:}
    start_streaming_swallow steady "$mode"
    # Steady state: one warm-up row, confirmed before the load starts. librdkafka learns a new topic's
    # partitions only on its once-a-second scan, so the first records to a topic wait up to 1 s; this
    # transaction takes that wait (it counts in the window: the max may be it, p99 is not).
    $psql -c "INSERT INTO steady (account, kind, amount, payload) VALUES (0, 'warm-up', 0, 'warm-up')"
    wait_confirmed steady_swallow "$($psql -tAc "SELECT pg_current_wal_insert_lsn()")"
    before=$($psql -tAc "SELECT coalesce(max(id), 0) FROM steady")
    cpu_before=$(cpu_ticks "$swallow_pid")
    echo "steady: offering $rate rows/s for $seconds s ($mode)..." >&2
    # synchronous_commit on for the load (fsync stays off): with it off, the walsender sees a commit only
    # once the WAL writer flushes it (wal_writer_delay, up to hundreds of ms when it hibernates), which
    # would be measured as Swallow's latency.
    PGOPTIONS="-c synchronous_commit=on" "$bindir/pgbench" -n -h 127.0.0.1 -p "$port" -U postgres -f "$work/load.sql" -c 4 -j 2 \
      -R $((rate / 10)) -T "$seconds" bench >"$work/pgbench.out" 2>&1 || { cat "$work/pgbench.out" >&2; exit 1; }
    end_lsn=$($psql -tAc "SELECT pg_current_wal_insert_lsn()")
    wait_confirmed steady_swallow "$end_lsn"
    cpu_after=$(cpu_ticks "$swallow_pid")
    after=$($psql -tAc "SELECT coalesce(max(id), 0) FROM steady")
    events=$((after - before))
    status=$(curl -sf "http://$http/status")
    # BENCH_DUMP_DIR: keep each level's /status and /metrics, for a closer look.
    if [ -n "${BENCH_DUMP_DIR:-}" ]; then
      mkdir -p "$BENCH_DUMP_DIR"
      echo "$status" >"$BENCH_DUMP_DIR/steady-$rate.status.json"
      curl -sf "http://$http/metrics" >"$BENCH_DUMP_DIR/steady-$rate.metrics"
    fi
    latency=$(echo "$status" | jq -r '.commit_to_ack_ms | "\(.p50) / \(.p99) / \(.max) (\(.count) tx)"')
    cpu_ms=$(awk "BEGIN {printf \"%.1f\", ($cpu_after - $cpu_before) * 1000 / $(getconf CLK_TCK) / ($events / 1000)}")
    produced=$(produced_events steady)
    peak=$(rss_peak_mb "$swallow_pid")
    stop_swallow steady
    row "steady, $mode" "offered $(fmt "$rate") rows/s (10-row transactions)" "$(fmt $((events / seconds)))" "—" "—" \
      "$latency" "$cpu_ms" "$peak MB" "$(fmt $((produced - 1)))/$(fmt "$events") events produced (+1 warm-up), slot confirmed at the end"
  done
fi

if [[ " ${sections[*]} " == *" memory "* ]]; then
  create_events_table memory 100
  # memory_case NAME ROWS SQL: a fresh Swallow streams while SQL commits ROWS rows.
  memory_case() {
    start_streaming_swallow memory
    before=$(produced_events memory)
    echo "memory: $1..." >&2
    local start
    start=$(now)
    $psql -c "$3"
    end_lsn=$($psql -tAc "SELECT pg_current_wal_insert_lsn()")
    wait_confirmed memory_swallow "$end_lsn"
    local elapsed produced peak
    elapsed=$(awk "BEGIN {printf \"%.1f\", $(now) - $start}")
    produced=$(( $(produced_events memory) - before ))
    peak=$(rss_peak_mb "$swallow_pid")
    stop_swallow memory
    local check="$(fmt "$produced")/$(fmt "$2") events produced, slot confirmed at the end"
    [ "$produced" -eq "$2" ] || check="MISMATCH: $check"
    row memory "$1" "$(fmt "$(awk "BEGIN {printf \"%d\", $2 / $elapsed}")") (${elapsed} s, commit included)" "—" "—" "—" "—" \
      "$peak MB" "$check"
  }
  memory_case "one transaction of 2,000,000 rows" 2000000 \
    "INSERT INTO memory SELECT g, g % 1000, 'purchase', (g % 10000) / 100.0, now(), $(payload_sql 100) FROM generate_series(1, 2000000) g"
  memory_case "burst of 10,000,000 rows (10,000-row transactions)" 10000000 "
DO \$\$
BEGIN
  FOR batch IN 0..999 LOOP
    INSERT INTO memory
    SELECT g, g % 1000, 'purchase', (g % 10000) / 100.0, now(), $(payload_sql 100)
    FROM generate_series(2000001 + batch * 10000, 2000000 + (batch + 1) * 10000) g;
    COMMIT;
  END LOOP;
END \$\$;"
fi

cat <<HEAD

Swallow $(git describe --always --dirty), $(nproc) cores shared by PostgreSQL, Swallow and the mock broker; $(date -u +%Y-%m-%dT%H:%MZ).

| section | workload | Swallow rows/s | pg_recvlogical rows/s | ratio | commit→ack p50 / p99 / max (ms) | CPU ms per 1k events | Swallow peak RSS | check |
|---|---|---|---|---|---|---|---|---|
HEAD
printf '%s\n' "${rows_out[@]}"
