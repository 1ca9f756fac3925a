#!/usr/bin/env bash
# Makes sure the project's nats-server (JetStream backend tests, `npm run bench -- --backend
# jetstream`) is built: .tools/bin/nats-server at NATS_VERSION, from its Go module. Does
# nothing when that binary is there at that version. Exits non-zero, with the fix, when it
# cannot be built.
set -euo pipefail

NATS_VERSION=v2.15.2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/.tools/bin"
SERVER="$BIN/nats-server"

installed() { [ -x "$SERVER" ] && [ "$("$SERVER" --version 2>/dev/null)" = "nats-server: $NATS_VERSION" ]; }

if installed; then exit 0; fi
GO="$(command -v go || true)"
if [ -z "$GO" ] && [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go; fi
if [ -z "$GO" ]; then
  echo "cannot build nats-server $NATS_VERSION: Go is not installed (https://go.dev/dl/, then run bash scripts/ensure-nats-server.sh again)" >&2
  exit 1
fi
echo "building nats-server $NATS_VERSION into .tools/bin (about a minute)..." >&2
mkdir -p "$BIN"
# Another version (or something else) in its place: go install would not replace a non-binary.
rm -f "$SERVER"
GOBIN="$BIN" "$GO" install "github.com/nats-io/nats-server/v2@$NATS_VERSION"
if installed; then exit 0; fi
echo "nats-server $NATS_VERSION did not build into $BIN: see the go output above, then run bash scripts/ensure-nats-server.sh again" >&2
exit 1
