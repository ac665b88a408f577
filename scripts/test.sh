#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what is missing, starts a throwaway
# PostgreSQL 15 (wal_level=logical), builds, runs every test (the Kafka tests start librdkafka's mock
# cluster in-process; the TLS tests start a second cluster with ssl=on, scripts/pg-tls-cluster.sh, and
# stop it themselves), and stops the cluster.
#
# The IntegrationTests target exists only while SWALLOW_INTEGRATION_TESTS=1 (see Package.swift): a bare
# `swift test` runs the unit tests alone and needs no server; this script is how the integration tests run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

work=$(mktemp -d /tmp/swallow-test.XXXXXX)
cleanup() { scripts/pg-cluster.sh stop "$work/pg" || true; rm -rf "$work"; }
trap cleanup EXIT
SWALLOW_TEST_PGPORT=$(scripts/pg-cluster.sh start "$work/pg")
export SWALLOW_TEST_PGPORT
echo "throwaway PostgreSQL on 127.0.0.1:$SWALLOW_TEST_PGPORT" >&2
# Adds the IntegrationTests target to the package; every command below must see it.
export SWALLOW_INTEGRATION_TESTS=1

swift build --build-tests "$@"

# The unit tests and the integration tests run at the same time, in two processes. Many unit tests wait
# (on librdkafka's timeouts, mostly) while holding a thread of Swift concurrency's cooperative pool, which
# has one thread per core; in one process with the integration tests they held up those tests' starts,
# for half a minute on a two-core machine. The unit tests go through `swift test`; the integration tests
# through the test binary it runs, directly (SwiftPM admits one `swift test` per build directory at a
# time). Their output follows the integration tests'.
tests_binary="$(swift build --show-bin-path "$@")/SwallowPackageTests.xctest"
unit_status=0
swift test --skip-build "$@" --skip IntegrationTests >"$work/unit-tests.log" 2>&1 &
unit=$!
integration_status=0
"$tests_binary" --testing-library swift-testing --filter IntegrationTests || integration_status=$?
wait "$unit" || unit_status=$?
echo
echo "unit tests (swift test --skip IntegrationTests):"
cat "$work/unit-tests.log"
[ "$unit_status" = 0 ] && [ "$integration_status" = 0 ] || {
  echo "test.sh: unit tests exited with $unit_status, integration tests with $integration_status" >&2
  exit 1
}
