#!/usr/bin/env bash
# Install the npm tools some tests run (newman, an OpenID provider, ...): every
# tests/node/<tool>/ folder holds a package.json and its package-lock.json, and gets
# `npm ci` when its node_modules is missing or older than the lock file. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1; then
  echo "installing nodejs and npm (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm
fi

for manifest in tests/node/*/package.json; do
  [ -e "$manifest" ] || continue
  folder=$(dirname "$manifest")
  stamp="$folder/node_modules/.package-lock.json"
  if [ ! -e "$stamp" ] || [ "$folder/package-lock.json" -nt "$stamp" ]; then
    echo "npm ci in $folder"
    (cd "$folder" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
