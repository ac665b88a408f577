# Sourced by the benchmarks: installs what is missing, builds a release `swallow` ($swallow), starts a
# throwaway PostgreSQL in $work (stopped, with every process in $pids, on exit) holding an empty
# database `bench` ($port; $psql runs SQL in it).
scripts/install-deps.sh
swift build -c release --product swallow >&2
swallow="$(swift build -c release --show-bin-path)/swallow"

work=$(mktemp -d /tmp/swallow-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  scripts/pg-cluster.sh stop "$work/pg" || true
  rm -rf "$work"
}
trap cleanup EXIT
port=$(scripts/pg-cluster.sh start "$work/pg")
psql="psql -X -q -h 127.0.0.1 -p $port -U postgres -d bench -v ON_ERROR_STOP=1"
psql -X -q -h 127.0.0.1 -p "$port" -U postgres -c "CREATE DATABASE bench"
