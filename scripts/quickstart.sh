#!/usr/bin/env bash
# Try Swallow on a fresh Debian machine: installs what is missing, builds Swallow, starts a throwaway
# PostgreSQL with a small shop schema, runs `swallow run` against it with the embedded Kafka (librdkafka's
# in-memory mock cluster), makes some changes, and prints the change events read back from Kafka.
#
#   scripts/quickstart.sh          # show events, then stop everything
#   scripts/quickstart.sh --keep   # leave Postgres and Swallow running to experiment
set -euo pipefail
cd "$(dirname "$0")/.."
keep=${1:-}
scripts/install-deps.sh

echo "==> building swallow" >&2
swift build -c release --product swallow >&2
swallow="$(swift build -c release --show-bin-path)/swallow"

work=/tmp/swallow-quickstart
scripts/pg-cluster.sh stop "$work/pg" 2>/dev/null || true
[ -f "$work/swallow.pid" ] && kill "$(cat "$work/swallow.pid")" 2>/dev/null || true
rm -rf "$work"; mkdir -p "$work"
port=$(scripts/pg-cluster.sh start "$work/pg")
psql="psql -q -h 127.0.0.1 -p $port -U postgres -v ON_ERROR_STOP=1"
echo "==> PostgreSQL on 127.0.0.1:$port (data in $work/pg)" >&2
$psql -c "CREATE DATABASE shop"
$psql -d shop <<'SQL'
CREATE TABLE orders (id serial PRIMARY KEY, customer text NOT NULL, total numeric(10,2) NOT NULL,
                     status text NOT NULL DEFAULT 'new', created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE order_items (order_id int REFERENCES orders, line int, sku text, quantity int,
                          PRIMARY KEY (order_id, line));
-- Already there before Swallow starts: delivered by the initial snapshot (op "r").
INSERT INTO orders (customer, total, status) VALUES ('linus', 9.99, 'shipped');
SQL

cat >"$work/swallow.yaml" <<YAML
postgres:
  host: 127.0.0.1
  port: $port
  dbname: shop
  user: postgres
  sslmode: disable
slot:
  name: swallow
  create: true
publication:
  name: swallow
  create: true
tables: [public.orders, public.order_items]
topic_prefix: shop
kafka:
  bootstrap_servers: embedded
  properties: {}
status_interval_ms: 1000
log_level: info
snapshot:
  mode: initial
state_dir: $work/state
YAML

echo "==> starting: swallow run --config $work/swallow.yaml (log: $work/swallow.log)" >&2
"$swallow" run --config "$work/swallow.yaml" >"$work/swallow.log" 2>&1 &
echo $! >"$work/swallow.pid"
bootstrap=""
for _ in $(seq 1 100); do
  bootstrap=$(grep 'embedded Kafka' "$work/swallow.log" | grep -o 'bootstrap_servers=[0-9.:]*' | head -n 1 | cut -d= -f2 || true)
  active=$($psql -d shop -tAc "SELECT active FROM pg_replication_slots WHERE slot_name = 'swallow'" || true)
  [ -n "$bootstrap" ] && [ "$active" = t ] && break
  sleep 0.2
done
[ -n "$bootstrap" ] && [ "$active" = t ] || { echo "swallow did not start:" >&2; cat "$work/swallow.log" >&2; exit 1; }
echo "==> embedded Kafka at $bootstrap; making some changes" >&2

$psql -d shop <<'SQL'
BEGIN;
INSERT INTO orders (customer, total) VALUES ('ada', 42.00), ('grace', 17.50);
INSERT INTO order_items VALUES (2, 1, 'BOOK-1', 2), (2, 2, 'PEN-7', 1), (3, 1, 'MUG-3', 1);
COMMIT;
UPDATE orders SET status = 'paid' WHERE id = 2;
DELETE FROM order_items WHERE order_id = 2 AND line = 2;
SQL
sleep 1

echo "==> change events in Kafka (swallow consume --bootstrap-servers $bootstrap --topic shop.public.orders shop.public.order_items)" >&2
"$swallow" consume --bootstrap-servers "$bootstrap" --topic shop.public.orders shop.public.order_items --wait-ms 10000

if [ "$keep" = "--keep" ]; then
  cat >&2 <<EOF
==> still running. Make changes with:  $psql -d shop
    watch them with:  $swallow consume --bootstrap-servers $bootstrap --topic shop.public.orders --follow
    stop with:        kill \$(cat $work/swallow.pid); scripts/pg-cluster.sh stop $work/pg
EOF
else
  kill -TERM "$(cat "$work/swallow.pid")"; wait "$(cat "$work/swallow.pid")" || true
  echo "==> swallow stopped cleanly; its log:" >&2
  tail -n 5 "$work/swallow.log" >&2
  scripts/pg-cluster.sh stop "$work/pg"
fi
