#!/usr/bin/env bash
# Durability (fault-injection) suite: Tests/IntegrationTests/ChaosTests.swift, SnapshotChaosTests.swift
# and StandbyChaosTests.swift with more rounds.
#
#   scripts/chaos.sh [ROUNDS]     # default 5 rounds of every fault
#
# A mixed workload runs against a PostgreSQL cluster of the suite's own while, round after round, Swallow
# (a `swallow run` child restarted as systemd would) is killed with -9 and stopped with SIGTERM, Postgres
# is restarted (-m fast, -m immediate) and its walsender terminated, and the mock Kafka cluster loses a
# broker, answers Produce requests with errors and answers slower than the request timeout; and (a second
# suite, on tables filled beforehand) Swallow is killed with -9 during its initial snapshot (twice, or
# ROUNDS times) and during an incremental snapshot requested through the signal table. Then every
# topic is read from the beginning and checked against what was committed (nothing lost, nothing
# rolled back, per-key commit order, replay equals the tables, confirmed_flush_lsn never ahead of the
# broker's acknowledgements). Prints a table per suite and mode: fault, rounds, events, lost,
# duplicates, recovery time.
# The normal test run (scripts/test.sh) runs the same suites with one round.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "chaos.sh: ROUNDS must be a positive whole number, not '$rounds'" >&2; exit 2; }
scripts/install-deps.sh
# The IntegrationTests target, where the suite lives, exists only with this set (see Package.swift).
export SWALLOW_INTEGRATION_TESTS=1
swift build --build-tests
report=$(mktemp /tmp/swallow-chaos-report.XXXXXX)
trap 'rm -f "$report"' EXIT
status=0
# One mode and one suite after the other, so that each runs on an otherwise idle machine. (The filter is a
# regular expression over `IntegrationTests.<suite>/<test>`: anchored on the dot, ChaosTests leaves
# SnapshotChaosTests and StandbyChaosTests out.)
for mode in atLeastOnce exactlyOnce; do
  for suite in ChaosTests SnapshotChaosTests StandbyChaosTests; do
    SWALLOW_CHAOS_ROUNDS=$rounds SWALLOW_CHAOS_REPORT=$report swift test --skip-build --filter "\.$suite/$mode" || status=$?
  done
done
echo
if [ -s "$report" ]; then cat "$report"; else echo "chaos.sh: the suite wrote no report (see the output above)" >&2; status=1; fi
exit $status
