#!/bin/sh
# Regenerates the fixtures from a running PostgreSQL 15 (wal_level=logical):
#   Fixtures/capture.sh [host] [port] [superuser]
# It drops and recreates the database swallow_fixtures, runs capture.sql there,
# then writes one hex-encoded message per line:
#   changes.hex  pgoutput messages, text tuple format (pg_logical_slot_peek_binary_changes)
#   binary.hex   the same changes with 'binary' 'true'
#   stream.hex   raw CopyData payloads ('w' / 'k') from START_REPLICATION
# and finally drops the slot, the origin and the database again.
set -eu
HOST=${1:-127.0.0.1}
PORT=${2:-5432}
PGUSER_=${3:-postgres}
DIR=$(cd "$(dirname "$0")" && pwd)
DB=swallow_fixtures
export PGOPTIONS="-c client_min_messages=warning"
PSQL="psql -X -q -v ON_ERROR_STOP=1 -h $HOST -p $PORT -U $PGUSER_"

cleanup() {
    $PSQL -d postgres -o /dev/null \
        -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'fx'" \
        -c "SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = 'upstream'" \
        -c "DROP DATABASE IF EXISTS $DB"
}
cleanup
$PSQL -d postgres -c "CREATE DATABASE $DB"
$PSQL -d $DB -o /dev/null -f "$DIR/capture.sql"

peek() {
    $PSQL -d $DB -At -c "SELECT encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('fx', NULL, NULL,
        'proto_version', '1', 'publication_names', 'pub', 'messages', 'true' $1)"
}
peek "" > "$DIR/changes.hex"
peek ", 'binary', 'true'" > "$DIR/binary.hex"
python3 "$DIR/capture_stream.py" "$HOST" "$PORT" "$PGUSER_" "$DB" fx > "$DIR/stream.hex"
cleanup
