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
# Adds the IntegrationTests target to the package; both commands below must see it.
export SWALLOW_INTEGRATION_TESTS=1

swift build --build-tests "$@"
swift test --skip-build "$@"
