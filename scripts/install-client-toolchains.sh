#!/usr/bin/env bash
# Installs what the client examples (examples/go, examples/python) need to be generated and
# run, at pinned versions, from the language registries:
#   - Go plugins for buf:   protoc-gen-go, protoc-gen-go-grpc   (go install …@version)
#   - grpcurl                                                    (go install …@version)
#   - Go modules of examples/go                                  (go mod download)
#   - Python packages:      grpcio, grpcio-tools, protobuf,      (pip, examples/python/requirements.txt)
#                           cryptography (verify_webhook.py)
# Idempotent: whatever is already at the pinned version is left alone, so a warm machine
# takes about a second. Needs Go (>= 1.26) and Python 3 with pip; it does not install those.
#
# Environment: PYTHON (default python3) picks the interpreter whose environment gets the
# packages, e.g. a virtualenv's bin/python; GOBIN/GOPATH decide where the plugins go.
set -euo pipefail
cd "$(dirname "$0")/.."

PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2
GRPCURL_VERSION=v1.9.3
PYTHON="${PYTHON:-python3}"
REQUIREMENTS=examples/python/requirements.txt

started_ms=$(($(date +%s%N) / 1000000))
say() { printf 'install-client-toolchains: %s\n' "$*"; }
die() { say "ERROR: $*" >&2; exit 1; }

# --- Go ------------------------------------------------------------------------------
GO="$(command -v go || true)"
if [ -z "$GO" ] && [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go; fi
[ -n "$GO" ] || die "go not found on PATH (nor /usr/local/go/bin/go): install Go 1.26 or newer"
go_version="$("$GO" env GOVERSION)"
bin_dir="$("$GO" env GOBIN)"
[ -n "$bin_dir" ] || bin_dir="$("$GO" env GOPATH)/bin"

# install_go_plugin NAME PACKAGE VERSION: skips when NAME --version already reports VERSION.
install_go_plugin() {
  local name=$1 package=$2 version=$3 have=""
  if [ -x "$bin_dir/$name" ]; then have="$("$bin_dir/$name" --version 2>/dev/null || true)"; fi
  if [[ "$have" =~ (^|[ v])${version#v}$ ]]; then
    say "ok         $name $version ($bin_dir/$name)"
  else
    "$GO" install "$package@$version"
    say "installed  $name $version -> $bin_dir/$name"
  fi
}
install_go_plugin protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION"
install_go_plugin protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"
# grpcurl (the README's quick start, and a test of reflection) prints no version when built
# with go install: read the module version from the binary instead.
have_grpcurl="$("$GO" version -m "$bin_dir/grpcurl" 2>/dev/null | awk '$1 == "mod" { print $3 }' || true)"
if [ "$have_grpcurl" = "$GRPCURL_VERSION" ]; then
  say "ok         grpcurl $GRPCURL_VERSION ($bin_dir/grpcurl)"
else
  "$GO" install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"
  say "installed  grpcurl $GRPCURL_VERSION -> $bin_dir/grpcurl"
fi
(cd examples/go && "$GO" mod download)
say "ok         examples/go modules downloaded ($go_version; versions in examples/go/go.mod)"
case ":$PATH:" in
  *":$bin_dir:"*) ;;
  *) say "note       $bin_dir is not on PATH; examples/go/generate.sh adds it for buf" ;;
esac

# --- Python --------------------------------------------------------------------------
command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install Python 3.9 or newer (or set PYTHON)"
# Prints the requirements that are not installed at exactly the pinned version.
missing="$("$PYTHON" - "$REQUIREMENTS" <<'EOF'
import sys
from importlib import metadata
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, _, want = line.partition("==")
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        have = None
    if have != want:
        print(f"{name}=={want} (have {have or 'none'})")
EOF
)"
if [ -z "$missing" ]; then
  say "ok         python packages $(grep -v '^#' "$REQUIREMENTS" | xargs) ($("$PYTHON" -c 'import sys; print(sys.executable)'))"
else
  say "installing python packages: $(echo "$missing" | xargs)"
  "$PYTHON" -m pip install --disable-pip-version-check --no-input --quiet --root-user-action=ignore -r "$REQUIREMENTS" \
    || die "pip install failed; if this Python is externally managed, create a virtualenv and rerun with PYTHON=/path/to/venv/bin/python"
  say "installed  python packages $(grep -v '^#' "$REQUIREMENTS" | xargs) ($("$PYTHON" -c 'import sys; print(sys.executable)'))"
fi

elapsed_ms=$(($(date +%s%N) / 1000000 - started_ms))
say "done in $((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000)))s"
