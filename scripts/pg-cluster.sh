#!/usr/bin/env bash
# Starts and stops a throwaway PostgreSQL cluster for tests, the quick start and benchmarks.
#
#   scripts/pg-cluster.sh start DIR [PORT] [NAME=VALUE ...]   # prints PORT once the server accepts connections
#   scripts/pg-cluster.sh stop DIR [MODE]                     # MODE: fast (default), immediate
#   scripts/pg-cluster.sh restart DIR [MODE]
#   scripts/pg-cluster.sh standby PRIMARY_DIR DIR [NAME=VALUE ...]   # a physical standby; prints its PORT
#   scripts/pg-cluster.sh promote DIR
#   scripts/pg-cluster.sh bindir [MAJOR]   # prints the bin directory `start` uses (or MAJOR's, see pg-versions.sh)
#
# Which PostgreSQL: the bin directory in $SWALLOW_TEST_PGBIN when set (scripts/test.sh sets it to each
# version of the matrix in turn, and the tests' own clusters inherit it), else Debian's newest installed
# server (15 on Debian 12). `start` records the bin directory in DIR, so `stop` and `restart` use the same
# binaries whatever the environment says then.
#
# The cluster lives entirely under DIR (data, socket, log), listens on 127.0.0.1 only, trusts local
# connections and has wal_level=logical. NAME=VALUE arguments are server settings applied after those
# defaults (e.g. `wal_level=replica` for a cluster that cannot decode logically). initdb refuses to run
# as root, so as root the server runs as the `postgres` OS user (created by Debian's postgresql package).
set -euo pipefail

cmd=${1:?usage: pg-cluster.sh start|stop|restart|standby|promote DIR ... | bindir [MAJOR]}
. "$(dirname "$0")/pg-versions.sh"

debian_bindir() {
  local found
  found=$(pg_config --bindir 2>/dev/null || true)
  # pg_config from libpq-dev may point at /usr/bin; the server binaries live under /usr/lib/postgresql/N/bin.
  if [ -z "$found" ] || [ ! -x "$found/initdb" ]; then
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  fi
  echo "$found"
}

if [ "$cmd" = bindir ]; then
  if [ -n "${2:-}" ]; then bindir=$(pg_bindir_of "$2"); else bindir=${SWALLOW_TEST_PGBIN:-$(debian_bindir)}; fi
  [ -x "$bindir/initdb" ] || { echo "pg-cluster: PostgreSQL ${2:-} not found at $bindir; run scripts/install-deps.sh" >&2; exit 1; }
  echo "$bindir"
  exit 0
fi

dir=${2:?usage: pg-cluster.sh start|stop|restart|standby|promote DIR ...}
if [ "$cmd" != start ] && [ "$cmd" != standby ] && [ -f "$dir/bindir" ]; then
  bindir=$(cat "$dir/bindir")
else
  bindir=${SWALLOW_TEST_PGBIN:-$(debian_bindir)}
fi
[ -x "$bindir/initdb" ] || { echo "pg-cluster: PostgreSQL server binaries not found at '$bindir'; run scripts/install-deps.sh" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A port that is free now, below the kernel's ephemeral range: the kernel never hands those out to
# connections or to port-0 listeners (the tests' mock Kafka brokers), so it stays free until the server
# binds it, and again across `restart`.
free_port() {
  python3 - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    port = random.randrange(max(1024, low - 10000), low) if low > 2024 else 0
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        print(s.getsockname()[1])
        break
    except OSError:
        pass
    finally:
        s.close()
PY
}

case "$cmd" in
  start)
    shift 2
    port=""
    if [ $# -gt 0 ] && [[ "$1" != *=* ]]; then port=$1; shift; fi
    chosen=$port
    [ -n "$port" ] || port=$(free_port)
    extra=""
    for setting in "$@"; do
      [[ "$setting" =~ ^[a-z_.]+=[^[:space:]\'\"]*$ ]] || { echo "pg-cluster: not a NAME=VALUE setting: $setting" >&2; exit 2; }
      extra="$extra -c $setting"
    done
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
      chown postgres "$dir"
      # The postgres user must be able to reach DIR: mktemp makes private (0700) parents.
      d=$(cd "$dir/.." && pwd)
      while [ "$d" != "/" ]; do chmod a+x "$d"; d=$(dirname "$d"); done
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      # --no-sync: a throwaway cluster (fsync=off below) need not wait for its files to reach the disk.
      as_owner "$bindir/initdb" --no-sync -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    # A port chosen here can still be taken before the server binds it (by another cluster starting at
    # the same moment): then another port, a few times.
    for attempt in 1 2 3 4 5; do
      rm -f "$dir/server.log"
      if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c wal_level=logical -c max_replication_slots=64 -c max_wal_senders=64 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c TimeZone=UTC$extra" \
        start >"$dir/pg_ctl.log" 2>&1; then
        break
      fi
      if [ -z "$chosen" ] && [ "$attempt" -lt 5 ] && grep -q "Address already in use" "$dir/server.log" 2>/dev/null; then
        port=$(free_port)
        continue
      fi
      cat "$dir/pg_ctl.log" "$dir/server.log" >&2
      exit 1
    done
    echo "$port" >"$dir/port"
    echo "$bindir" >"$dir/bindir"
    echo "$port"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$bindir/pg_ctl" -D "$dir/data" -m "${3:-fast}" -w stop >/dev/null 2>&1 || true
    fi
    ;;
  standby)
    # A physical standby of the running cluster in PRIMARY_DIR (the first argument), made with
    # pg_basebackup: a physical slot on the primary named after the standby's directory
    # (standby_<basename>, printed to stderr; `primary_slot_name` points at it, as
    # `synchronized_standby_slots` needs), `primary_conninfo` with a dbname (slot synchronization
    # needs one) written by -R, and the primary's bin directory. NAME=VALUE settings as for `start`,
    # e.g. sync_replication_slots=on hot_standby_feedback=on.
    primary=$dir
    dir=${3:?usage: pg-cluster.sh standby PRIMARY_DIR DIR [NAME=VALUE ...]}
    shift 3
    bindir=$(cat "$primary/bindir")
    primary_port=$(cat "$primary/port")
    slot="standby_$(basename "$dir" | tr -c 'a-z0-9_\n' '_')"
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
      chown postgres "$dir"
      d=$(cd "$dir/.." && pwd)
      while [ "$d" != "/" ]; do chmod a+x "$d"; d=$(dirname "$d"); done
    fi
    as_owner "$bindir/pg_basebackup" -d "host=127.0.0.1 port=$primary_port user=postgres dbname=postgres" \
      -D "$dir/data" -R -X stream -C -S "$slot" --no-sync >"$dir/basebackup.log" 2>&1 \
      || { cat "$dir/basebackup.log" >&2; exit 1; }
    echo "standby slot on the primary: $slot" >&2
    SWALLOW_TEST_PGBIN=$bindir exec "$0" start "$dir" "$@"
    ;;
  promote)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -w -t 60 promote >/dev/null
    ;;
  restart)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m "${3:-fast}" -w -t 60 restart >/dev/null 2>&1
    ;;
  *) echo "usage: pg-cluster.sh start DIR [PORT] [NAME=VALUE ...] | stop DIR [MODE] | restart DIR [MODE] | standby PRIMARY_DIR DIR [NAME=VALUE ...] | promote DIR | bindir [MAJOR]" >&2; exit 2 ;;
esac
