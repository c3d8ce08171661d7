#!/usr/bin/env bash
# Where the CPUs go behind one proxy at two threads: per-process time on a
# CPU, time waiting in a run queue and time slices (from
# /proc/PID/task/TID/schedstat), and per-CPU idle time (/proc/stat), over
# 4 s of steady load. The set-up is the proxy scenario's: three Go backends
# on 127.0.0.1:9001-9003 (unpinned), the proxy on 127.0.0.1:8084 (unpinned
# unless PIN says otherwise), the load pinned to CPU 1.
#
#   bench/sched.sh switchboard|haproxy [ws|http]
#
# ws (default): sbbench wsecho, 64 connections; http: wrk -t1 -c64.
# Environment: GOMAXPROCS (Switchboard's, default 2), PIN (taskset CPU list
# for the proxy, default none), SB_ARGS (more Switchboard flags), SB_BIN (a
# Switchboard binary to run instead of the work tree's, for A/B), SWITCHES=1
# (also trace 0.5 s of the proxy's context switches with perf: how often its
# threads were preempted or went to sleep, per CPU).
# Prints one line per process group (proxy, backends, load: CPUs busy,
# CPUs waiting, time slices per round trip or request) and one per proxy
# thread.
# Every process started is killed at the end, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-}
load=${2:-ws}
case "$target" in switchboard | haproxy) ;; *)
	echo "usage: bench/sched.sh switchboard|haproxy [ws|http]" >&2
	exit 2
	;;
esac
case "$load" in ws | http) ;; *)
	echo "load must be ws or http" >&2
	exit 2
	;;
esac
for tool in taskset python3 $([ "$load" = http ] && echo wrk) $([ "$target" = haproxy ] && echo haproxy); do
	command -v "$tool" >/dev/null || {
		echo "missing: $tool" >&2
		exit 1
	}
done

bin=bench/results/bin
tmp=$(mktemp -d)
mkdir -p "$bin"
go build -o "$bin/sbbench" ./bench/cmd/sbbench
go build -o "$bin/switchboard" ./cmd/switchboard

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

for i in 1 2 3; do
	"$bin/sbbench" backend -addr "127.0.0.1:900$i" -ws internal >"$tmp/backend$i.log" 2>&1 &
	pids+=($!)
done
backends="${pids[*]}"
pin=()
[ -n "${PIN:-}" ] && pin=(taskset -c "$PIN")
if [ "$target" = switchboard ]; then
	# shellcheck disable=SC2086 # SB_ARGS is a list of flags
	GOMAXPROCS=${GOMAXPROCS:-2} "${pin[@]}" "${SB_BIN:-$bin/switchboard}" --ip 127.0.0.1 --port 8084 \
		--admin 127.0.0.1:0 --log-level warn ${SB_ARGS:-} --backend http://127.0.0.1:9001 \
		--backend http://127.0.0.1:9002 --backend http://127.0.0.1:9003 >"$tmp/proxy.log" 2>&1 &
else
	sed "s|/tmp/bench/proxy/tmp|$tmp|" ../shared/reference/proxy-peers/haproxy2.cfg >"$tmp/haproxy.cfg"
	"${pin[@]}" haproxy -db -f "$tmp/haproxy.cfg" >"$tmp/proxy.log" 2>&1 &
fi
proxy=$!
pids+=("$proxy")
sleep 1.5

if [ "$load" = ws ]; then
	taskset -c 1 "$bin/sbbench" wsecho -url ws://127.0.0.1:8084/ws -c 64 -d 8s -ws internal >"$tmp/load.out" 2>"$tmp/load.err" &
else
	taskset -c 1 wrk -t1 -c64 -d8s http://127.0.0.1:8084/ >"$tmp/load.out" 2>&1 &
fi
client=$!
pids+=("$client")
sleep 2
snap() {
	for p in $proxy $backends $client; do
		for t in /proc/"$p"/task/*; do
			echo "$p ${t##*/} $(cat "$t"/schedstat 2>/dev/null || true)"
		done
	done
}
snap >"$tmp/s1"
grep '^cpu' /proc/stat >"$tmp/c1"
sleep 4
snap >"$tmp/s2"
grep '^cpu' /proc/stat >"$tmp/c2"
if [ -n "${SWITCHES:-}" ]; then
	# Every time a proxy thread leaves a CPU, for 0.5 s: preempted (R) or
	# asleep (S, D), and on which CPU.
	perf record -q -e sched:sched_switch -p "$proxy" -o "$tmp/switch.data" -- sleep 0.5 >/dev/null 2>&1 || true
	perf script -i "$tmp/switch.data" -F cpu,trace 2>/dev/null |
		sed -n 's/^ *\[0*\([0-9][0-9]*\)\].*prev_state=\([A-Z+]*\).*/\1 \2/p' | sort | uniq -c |
		awk '{printf "  proxy threads left CPU %s %s times in 0.5 s (%s)\n", $2, $1, ($3 ~ /^R/ ? "preempted" : "asleep")}' >"$tmp/switches"
fi
wait "$client"

python3 - "$tmp" "$load" "$proxy" "$client" <<'PY'
import json, os, re, sys
tmp, load, proxy, client = sys.argv[1:]
out = open(os.path.join(tmp, "load.out")).read()
if load == "ws":
    rate = float(json.loads(out)["rate"])
else:
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))

def snap(name):
    d = {}
    for line in open(os.path.join(tmp, name)):
        f = line.split()
        if len(f) == 5:
            d[(f[0], f[1])] = [int(x) for x in f[2:]]
    return d

a, b = snap("s1"), snap("s2")
secs = 4.0
groups = {"proxy": [0, 0, 0], "backends": [0, 0, 0], "load": [0, 0, 0]}
threads = []
for key, v in sorted(b.items()):
    u = a.get(key, [0, 0, 0])
    d = [v[i] - u[i] for i in range(3)]
    g = "proxy" if key[0] == proxy else ("load" if key[0] == client else "backends")
    for i in range(3):
        groups[g][i] += d[i]
    if g == "proxy" and d[2] > 0:
        threads.append((key[1], d))

def cpus(name):
    return [l.split() for l in open(os.path.join(tmp, name))]

idle = [(int(y[4]) - int(x[4]) + int(y[5]) - int(x[5])) / 100 / secs
        for x, y in zip(cpus("c1"), cpus("c2"))]
one = "round trip" if load == "ws" else "request"
print(f"{rate:,.0f} {one}s/s; CPUs idle {idle[0]:.2f} (per CPU: " +
      ", ".join(f"{x:.2f}" for x in idle[1:]) + ")")
for g, (run, wait, slices) in groups.items():
    print(f"  {g:8s} on CPU {run / secs / 1e9:.2f}  waiting {wait / secs / 1e9:.2f}  "
          f"slices per {one} {slices / secs / rate:.3f}")
for tid, (run, wait, slices) in threads:
    print(f"  proxy thread {tid}: on CPU {run / secs / 1e9:.3f}  waiting {wait / secs / 1e9:.3f}  slices {slices}")
PY
[ -s "$tmp/switches" ] && cat "$tmp/switches"
