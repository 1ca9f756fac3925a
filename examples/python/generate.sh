#!/usr/bin/env bash
# Regenerates examples/python/gen from proto/hookline with grpcio-tools' bundled compiler.
# Needs grpcio-tools (pinned in requirements.txt): scripts/install-client-toolchains.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONDONTWRITEBYTECODE=1
npx --no-install buf generate --template examples/python/buf.gen.yaml
echo "generated examples/python/gen"
