#!/usr/bin/env bash
# Installs what the bridge needs from the package registries and builds it. Idempotent: a second
# run with nothing changed only rebuilds the TypeScript.
set -euo pipefail
cd "$(dirname "$0")/../.."

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "matrix-pstn-bridge needs Node.js 20 or newer (found $(node --version))." >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # better-sqlite3 is compiled by node-gyp, which would download Node's headers unless told where
  # the local ones are; every Node.js install carries them in <prefix>/include/node.
  if [ -z "${npm_config_nodedir:-}" ]; then
    prefix=$(node -p 'require("path").resolve(process.execPath, "../..")')
    if [ -f "$prefix/include/node/node.h" ]; then export npm_config_nodedir="$prefix"; fi
  fi
  echo "Installing Node.js packages…"
  npm ci --no-audit --no-fund --loglevel=error
fi

npm run --silent build
