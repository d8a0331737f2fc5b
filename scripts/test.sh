#!/usr/bin/env bash
# Every test tier: unit, integration (SQLite, fastify, the simulator, the twilio SDK, Synapse) and
# end to end (real Synapse, the built bridge as a process). Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/lib/setup.sh
# The call tests drive Element's call stack in a real (headless) Chromium from Debian.
bash scripts/lib/chromium.sh
npx tsc -p tsconfig.json --noEmit
exec npx vitest run "$@"
