#!/usr/bin/env bash
# What a kill -9 repeats with `delivery: at_least_once`, as a new user would run it (the default
# configuration but for the case's confirm_interval_ms):
#
#   scripts/bench-restarts.sh [KILLS [TRANSACTIONS_PER_SECOND]]   # default 5 kills under 2,000 tx/s
#
# A one-row-insert load runs (pgbench -R) while Swallow is killed with -9 every 3 s and started again at
# once, KILLS times; then the slot is drained and the topic read back. After a kill, PostgreSQL resends
# everything after the position Swallow last confirmed to it, so every event acknowledged by the broker
# but not yet confirmed is delivered twice. Two cases on the same machine: confirm_interval_ms 10000
# (what the 10 s status interval alone gave before confirm_interval_ms existed) and the default (200).
# Prints the duplicates per kill for each, and checks that nothing was lost.
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-5}
rate=${2:-2000}
# shellcheck source=scripts/bench/setup.sh
source scripts/bench/setup.sh
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
start_mock
rows_out=()

run_case() {
  local name=$1 confirm_ms=$2 table="restarts_$1"
  $psql -c "CREATE TABLE $table (id bigserial PRIMARY KEY, v int NOT NULL); CREATE PUBLICATION $table FOR TABLE $table" >/dev/null
  $psql -c "SELECT pg_create_logical_replication_slot('${table}_swallow', 'pgoutput')" >/dev/null
  cat >"$work/$table.yaml" <<YAML
postgres: {host: 127.0.0.1, port: $port, dbname: bench, user: postgres, sslmode: disable}
slot: {name: ${table}_swallow, create: false}
publication: {name: $table, create: false}
tables: [public.$table]
topic_prefix: $table
kafka: {bootstrap_servers: "$bootstrap"}
confirm_interval_ms: $confirm_ms
log_level: warning
YAML
  echo "INSERT INTO $table (v) VALUES (1);" >"$work/$table.sql"
  start_swallow "$work/$table.yaml" "$work/$table.log"
  wait_confirmed "${table}_swallow" "$($psql -tAc "SELECT pg_current_wal_insert_lsn()")"
  echo "restarts: $name: $rate tx/s, kill -9 every 3 s, $kills times..." >&2
  PGOPTIONS="-c synchronous_commit=on" "$bindir/pgbench" -n -h 127.0.0.1 -p "$port" -U postgres -f "$work/$table.sql" \
    -c 2 -j 2 -R "$rate" -T $((kills * 3 + 3)) bench >"$work/pgbench.out" 2>&1 &
  local load=$!
  for _ in $(seq 1 "$kills"); do
    sleep 3
    kill -9 "$swallow_pid"; wait "$swallow_pid" 2>/dev/null || true
    start_swallow "$work/$table.yaml" "$work/$table.log"
  done
  wait "$load" || { cat "$work/pgbench.out" >&2; exit 1; }
  wait_confirmed "${table}_swallow" "$($psql -tAc "SELECT pg_current_wal_insert_lsn()")"
  kill -TERM "$swallow_pid"; wait "$swallow_pid" || true
  local committed read unique
  committed=$($psql -tAc "SELECT count(*) FROM $table")
  "$swallow" consume --bootstrap-servers "$bootstrap" --topic "$table.public.$table" >"$work/$table.records"
  read=$(wc -l <"$work/$table.records")
  unique=$(sed -e 's/.* key=\([^ ]*\) value=.*/\1/' "$work/$table.records" | sort -u | wc -l)
  local lost=$((committed - unique)) duplicates=$((read - unique))
  rows_out+=("| $name | $confirm_ms | $kills | $(printf "%'d" "$committed") | $(printf "%'d" "$read") | $lost | $(printf "%'d" "$duplicates") | $((duplicates / kills)) |")
  $psql -c "SELECT pg_drop_replication_slot('${table}_swallow')" >/dev/null
}

run_case status_interval_only 10000
run_case default 200

cat <<HEAD

Swallow $(git describe --always --dirty), $(nproc) cores shared by PostgreSQL, Swallow and the mock broker; $(date -u +%Y-%m-%dT%H:%MZ); $rate transactions/s of one row.

| case | confirm_interval_ms | kills | rows committed | records read | lost | duplicates | duplicates per kill |
|---|---:|---:|---:|---:|---:|---:|---:|
HEAD
printf '%s\n' "${rows_out[@]}"
