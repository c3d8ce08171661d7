#!/usr/bin/env bash
# Runs one benchmark scenario of Switchboard's harness (bench/cmd/sbbench):
#   bench/run.sh SCENARIO [sbbench flags...]     e.g. bench/run.sh proxy -runs 5 -d 10s
#   bench/run.sh list
# Installs what the scenario needs (Debian packages, npm modules), builds the
# harness, runs it, and prints a markdown summary on stdout; everything
# measured goes to bench/results/<scenario>-<UTC stamp>/ (gitignored).
# Every process started is killed at the end, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:-}
if [ -z "$scenario" ]; then
	echo "usage: bench/run.sh SCENARIO [flags]   (bench/run.sh list)" >&2
	exit 2
fi
shift

need=()
want() { command -v "$1" >/dev/null 2>&1 || need+=("${2:-$1}"); }
case "$scenario" in
proxy) want wrk; want taskset util-linux; want haproxy; want nginx; want caddy ;;
sio) want node nodejs; want taskset util-linux ;;
messaging|sdk) want node nodejs; want redis-server; want taskset util-linux ;;
esac
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "installing: ${need[*]}" >&2
		apt-get update -qq >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	else
		echo "missing (install as root): ${need[*]}" >&2
	fi
fi
case "$scenario" in
sio|messaging|sdk)
	if [ ! -d node_modules/socket.io ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
		npm ci --no-audit --no-fund --loglevel=error
	fi ;;
esac

mkdir -p bench/results/bin
go build -o bench/results/bin/sbbench ./bench/cmd/sbbench
if [ "$scenario" = list ]; then
	exec bench/results/bin/sbbench list
fi

bench/results/bin/sbbench run "$scenario" "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' INT TERM EXIT
wait "$pid"
rc=$?
trap - INT TERM EXIT
exit $rc
