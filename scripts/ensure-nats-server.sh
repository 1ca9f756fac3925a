#!/usr/bin/env bash
# Makes sure nats-server (JetStream backend tests, `npm run bench -- --backend jetstream`) is
# installed: Debian's package when it is missing and apt-get can run. Exits non-zero, with
# the fix, when it cannot be installed.
set -euo pipefail

found() { command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]; }

if found; then exit 0; fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; fi
  fi
  if [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; then
    echo "installing nats-server (Debian package)..." >&2
    $SUDO apt-get install -y -qq --no-install-recommends nats-server >/dev/null 2>&1 ||
      { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends nats-server >/dev/null; }
  fi
fi
if found; then exit 0; fi
echo "nats-server is missing: install the Debian package (apt-get install nats-server) or put a nats-server 2.9+ binary on PATH" >&2
exit 1
