#!/usr/bin/env bash
# Installs the system packages Swallow builds and tests against; skips what is already there.
set -euo pipefail
needed=()
for package in libpq-dev librdkafka-dev postgresql pkg-config python3 openssl; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || needed+=("$package")
done
if [ ${#needed[@]} -gt 0 ]; then
  echo "installing: ${needed[*]}" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "swift is not on PATH (Swift 6 toolchain needed, e.g. /opt/swift/usr/bin)" >&2; exit 1; }
