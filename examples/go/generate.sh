#!/usr/bin/env bash
# Regenerates examples/go/gen from proto/hookline with the local Go plugins.
# Needs protoc-gen-go and protoc-gen-go-grpc: scripts/install-client-toolchains.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
GO="$(command -v go || echo /usr/local/go/bin/go)"
export PATH="$("$GO" env GOPATH)/bin:$PATH"
npx --no-install buf generate --template examples/go/buf.gen.yaml
echo "generated examples/go/gen"
