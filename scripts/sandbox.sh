#!/usr/bin/env bash
# The sandbox: local Synapse + carrier simulator + the bridge, on loopback. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/lib/setup.sh
exec node build/sandbox/run.js
