#!/usr/bin/env bash
# Makes sure Debian's chromium (the console's browser test) is installed: apt-get when it is
# missing and we are root (or have password-less sudo). Exits non-zero, with the fix, when not.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; fi
if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; }; then
  echo "installing chromium (Debian package) for the console's browser test..." >&2
  $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 ||
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
fi
if [ -x /usr/bin/chromium ]; then exit 0; fi
echo "chromium is missing: apt-get install chromium (the console's browser test needs it)" >&2
exit 1
