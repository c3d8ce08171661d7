#!/usr/bin/env bash
# Try the tracker example, in one of two layouts:
#
#   examples/tracker/run.sh            Switchboard alone on :8080 (proxy + tracker);
#                                      open http://127.0.0.1:8080/
#   examples/tracker/run.sh nginx      nginx on :8000 in front (nginx.conf), Switchboard
#                                      --tracker-only on :8080; open http://127.0.0.1:8000/
#
# Both start three backends on 4001-4003. Environment: SB_TOKEN (control-channel token,
# optional). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/../.."          # the repository root: node_modules and go.mod live here

layout=${1:-switchboard}
case "$layout" in switchboard|nginx) ;; *) echo "usage: $0 [switchboard|nginx]" >&2; exit 2 ;; esac

export SB_TOKEN=${SB_TOKEN:-}
tmp=$(mktemp -d)
pids=()
backends=()
cleanup() { trap - EXIT INT TERM; for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

# Built first rather than `go run`, so that Ctrl-C reaches Switchboard itself, not only the go tool.
echo "building Switchboard..."
go build -o "$tmp/switchboard" ./cmd/switchboard
args=(--port 8080)
[ "$layout" = nginx ] && args+=(--tracker-only)
# The token goes through the environment: a --token flag would show in ps.
SWITCHBOARD_CONTROL_TOKEN="$SB_TOKEN" "$tmp/switchboard" "${args[@]}" & pids+=($!)

if [ "$layout" = nginx ]; then
  mkdir -p "$tmp/nginx"
  nginx -p "$tmp/nginx" -e stderr -c "$PWD/examples/tracker/nginx.conf" & pids+=($!)
  page=http://127.0.0.1:8000/
  for port in 4001 4002 4003; do
    # The channel through nginx's /list/, and browsers reach each backend under nginx's /b/PORT.
    PORT=$port SB_URL=http://127.0.0.1:8000 PUBLIC_URL=http://127.0.0.1:8000/b/$port \
      node examples/tracker/backend.js & pids+=($!); backends+=("$port: pid $!")
  done
else
  page=http://127.0.0.1:8080/
  for port in 4001 4002 4003; do
    PORT=$port SB_URL=http://127.0.0.1:8080 node examples/tracker/backend.js & pids+=($!); backends+=("$port: pid $!")
  done
fi

cat <<MSG

  Open ${page} in a browser or two (layout: ${layout}).
  Backends: ${backends[*]}
  Kill one (kill PID) to watch it leave the list; start it again with
    PORT=4003 node examples/tracker/backend.js   (plus the same SB_URL/PUBLIC_URL as above)
  Ctrl-C stops everything.

MSG
wait   # until Ctrl-C; a backend you kill to try failover does not stop the rest
