#!/usr/bin/env bash
# Swallow against an independent Kafka-compatible broker: the TansuInteropTests suite (topic_creation's
# CreateTopics and DescribeConfigs, `swallow check`'s comparison, plain streaming) against Tansu 0.6 and a
# throwaway PostgreSQL cluster. Each test starts brokers of its own ($SWALLOW_TEST_TANSU: the binary).
#
#   scripts/interop-tansu.sh [TESTS_BINARY]   # default: the debug build's SwallowPackageTests.xctest
#
# TESTS_BINARY must be built with SWALLOW_INTEGRATION_TESTS=1 (scripts/test.sh calls this script with
# its own). PostgreSQL: $SWALLOW_TEST_PGBIN's (default: the newest of scripts/pg-versions.sh).
#
# Tansu needs a newer librdkafka than Debian 12's 2.0.2 (see scripts/interop-versions.sh): the tests run
# with the confluent-kafka wheel's, found first through LD_LIBRARY_PATH under the SONAME the test binary
# links (librdkafka.so.1). The binary was compiled against 2.0.2's headers; librdkafka keeps its ABI.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg-versions.sh
. scripts/interop-versions.sh

tests_binary=${1:-$(SWALLOW_INTEGRATION_TESTS=1 swift build --show-bin-path)/SwallowPackageTests.xctest}
[ -x "$tests_binary" ] || { echo "interop-tansu: $tests_binary not found; build with SWALLOW_INTEGRATION_TESTS=1 swift build --build-tests" >&2; exit 1; }
[ -x "$(tansu_binary)" ] && [ -n "$(newer_librdkafka)" ] || { echo "interop-tansu: Tansu or the newer librdkafka missing; run scripts/install-deps.sh" >&2; exit 1; }

work=$(mktemp -d /tmp/swallow-interop.XXXXXX)
cleanup() {
  scripts/pg-cluster.sh stop "$work/pg" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/lib"
ln -s "$(newer_librdkafka)" "$work/lib/librdkafka.so.1"
export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export SWALLOW_TEST_TANSU SWALLOW_TEST_PGBIN SWALLOW_TEST_PGPORT
SWALLOW_TEST_TANSU=$(tansu_binary)
last_version=${pg_test_versions##* }
SWALLOW_TEST_PGBIN=${SWALLOW_TEST_PGBIN:-$(scripts/pg-cluster.sh bindir "$last_version")}
SWALLOW_TEST_PGPORT=$(scripts/pg-cluster.sh start "$work/pg" | tail -1)
echo "==> interoperability tests against $("$SWALLOW_TEST_TANSU" --version) with librdkafka $(basename "$(newer_librdkafka)") ($confluent_kafka_release's) and $("$SWALLOW_TEST_PGBIN/postgres" --version)" >&2
SWALLOW_INTEGRATION_TESTS=1 "$tests_binary" --testing-library swift-testing --filter TansuInteropTests
