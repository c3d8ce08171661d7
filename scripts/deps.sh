#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine: the npm packages of
# the Node interop tests (from package-lock.json) and the Debian packages some
# end-to-end tests drive (chromium, nginx). Idempotent and quiet when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v nginx >/dev/null 2>&1 || need+=(nginx)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm ci --no-audit --no-fund --loglevel=error
fi
