#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed at /usr/bin/chromium (the browser tests drive it with
# playwright-core; never `npx playwright install`). Idempotent: when it is already there, it only
# prints the version. CI runs this on a fresh Debian machine as root with only the package
# registries reachable.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ ! -x "$CHROMIUM" ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium.sh: $CHROMIUM is missing and apt-get is not available; install Chromium by hand." >&2
    exit 1
  fi
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      as_root=(sudo -n)
    else
      echo "chromium.sh: $CHROMIUM is missing; run as root (or install sudo) to install it." >&2
      exit 1
    fi
  fi
  echo "Installing Chromium from the Debian archive…"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
  if [ ! -x "$CHROMIUM" ]; then
    echo "chromium.sh: installed the chromium package but $CHROMIUM is still missing." >&2
    exit 1
  fi
fi

# Debian's launcher script prints a harmless shell warning on some machines; keep only the version.
"$CHROMIUM" --version 2>/dev/null
