#!/bin/bash
# Docker HEALTHCHECK for Swallow: GET /healthz from the HTTP listener of the configuration's
# `http.listen`, whose address the image passes in SWALLOW_HEALTH_ADDRESS (host:port, default
# 127.0.0.1:8080). Exit 0 (healthy) on HTTP 200, 1 otherwise. Uses bash's /dev/tcp, so the slim image
# needs neither curl nor wget.
set -u
address=${SWALLOW_HEALTH_ADDRESS:-127.0.0.1:8080}
host=${address%:*}
port=${address##*:}
host=${host#[}
host=${host%]}
# A wildcard listener is reached on loopback.
case "$host" in
  "" | 0.0.0.0 | "*") host=127.0.0.1 ;;
  ::) host=::1 ;;
esac
if ! { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
  echo "healthcheck: nothing listens on $host:$port (is http.listen set to $address?)"
  exit 1
fi
printf 'GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$host" >&3
if ! IFS= read -r -t 5 status <&3; then
  echo "healthcheck: no answer from $host:$port within 5 s"
  exit 1
fi
status=${status%$'\r'}
echo "healthcheck: $status"
case "$status" in
  "HTTP/1."[01]" 200"*) exit 0 ;;
  *) exit 1 ;;
esac
