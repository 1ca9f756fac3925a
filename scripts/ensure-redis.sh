#!/usr/bin/env bash
# Makes sure redis-server is on PATH for the BullMQ peer of the bench (`npm run bench -- --peers`).
# Nothing else needs it. Does nothing when it is there; as root with apt-get, installs Debian's
# redis-server package; otherwise exits non-zero with the fix.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's redis-server package (for the bench's BullMQ peer)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends redis-server >&2
  # The package starts a system-wide service on 6379; the bench starts its own server and needs none.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then systemctl stop redis-server || true; fi
  if command -v redis-server >/dev/null 2>&1; then exit 0; fi
fi
echo "redis-server is not installed: install it (Debian/Ubuntu: sudo apt-get install redis-server), then run npm run bench -- --peers again" >&2
exit 1
