#!/usr/bin/env bash
# Try the chat example: Switchboard on 127.0.0.1:8080 and three chat backends on 3001-3003.
#
#   examples/chat/run.sh            then open http://127.0.0.1:8080/ in a few browser tabs
#
# Environment: SB_TOKEN (control-channel token, optional), SB_PORT (default 8080),
# NO_SWITCHBOARD=1 (use a Switchboard that is already running). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/../.."          # the repository root: node_modules and go.mod live here

SB_PORT=${SB_PORT:-8080}
export SB_URL="http://127.0.0.1:${SB_PORT}"
export SB_TOKEN=${SB_TOKEN:-}
pids=()
cleanup() { trap - EXIT INT TERM; for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait; }
trap cleanup EXIT INT TERM

if [ -z "${NO_SWITCHBOARD:-}" ]; then
  # Built first rather than `go run`, so that Ctrl-C reaches Switchboard itself, not only the go tool.
  bin=$(mktemp -d)/switchboard
  echo "building Switchboard..."
  go build -o "$bin" ./cmd/switchboard
  args=(--port "$SB_PORT")
  # The token goes through the environment: a --token flag would show in ps.
  SWITCHBOARD_CONTROL_TOKEN="$SB_TOKEN" "$bin" "${args[@]}" & pids+=($!)
fi

for port in 3001 3002 3003; do
  PORT=$port node examples/chat/backend.js & pids+=($!)
done

cat <<MSG

  Chat through Switchboard:  http://127.0.0.1:${SB_PORT}/   (each tab may land on another backend)
  Or one backend directly:   http://127.0.0.1:3001/  :3002/  :3003/
  Scripted users:            node examples/chat/users.js --url http://127.0.0.1:3001 --name sadman
  Ctrl-C stops everything.

MSG
wait   # until Ctrl-C; a backend you kill to try failover does not stop the rest
