package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proxyScenario is issue 3's benchmark: Switchboard against HAProxy, nginx
// and Caddy (the configs of shared/reference/proxy-peers) in front of three
// Go backends on 127.0.0.1:9001-9003, with the direct backend as baseline.
type proxyScenario struct {
	runs        int
	dur         time.Duration
	conns       int
	wrkThreads  int
	rateDur     time.Duration
	rate        float64
	rateFrac    float64
	wsConns     int
	wsDur       time.Duration
	idleConns   int
	idleWait    time.Duration
	perProc     int
	targets     string
	phases      string
	sbBin       string
	sbBinB      string
	sbArgs      string
	peers       string
	proxy2CPUs  string
	backendCPUs string
}

func (p *proxyScenario) Name() string { return "proxy" }
func (p *proxyScenario) Summary() string {
	return "issue 3: HTTP req/s, p99 at fixed rate, WebSocket echo, idle tunnels vs HAProxy/nginx/Caddy"
}

func (p *proxyScenario) Flags(fs *flag.FlagSet) {
	fs.IntVar(&p.runs, "runs", 5, "interleaved runs per target")
	fs.DurationVar(&p.dur, "d", 10*time.Second, "wrk duration per run")
	fs.IntVar(&p.conns, "c", 64, "wrk connections")
	fs.IntVar(&p.wrkThreads, "t", 1, "wrk threads")
	fs.DurationVar(&p.rateDur, "rate-d", 0, "constant-rate run duration (default: -d)")
	fs.Float64Var(&p.rate, "rate", 0, "offered rate for the p99 phase (default: -rate-frac × HAProxy's best median req/s)")
	fs.Float64Var(&p.rateFrac, "rate-frac", 0.8, "fraction of HAProxy's max for the p99 phase")
	fs.IntVar(&p.wsConns, "ws-c", 64, "WebSocket echo connections")
	fs.DurationVar(&p.wsDur, "ws-d", 0, "WebSocket echo duration (default: -d)")
	fs.IntVar(&p.idleConns, "idle", 9000, "idle proxied WebSockets per target")
	fs.DurationVar(&p.idleWait, "idle-wait", 30*time.Second, "idle time before sampling RSS")
	fs.IntVar(&p.perProc, "per-proc", 4500, "idle connections per holder process (≤ 9,990: 20,000 fd limit)")
	fs.StringVar(&p.targets, "targets", "direct,switchboard1,switchboard2,haproxy1,haproxy2,nginx1,nginx2,caddy,httputil", "targets, comma-separated")
	fs.StringVar(&p.phases, "phases", "wrk,rate,ws,idle", "phases to run, comma-separated")
	fs.StringVar(&p.sbBin, "switchboard", "", "switchboard binary (default: build ./cmd/switchboard into bench/results/bin)")
	fs.StringVar(&p.sbBinB, "switchboard-b", "", "a second switchboard binary for A/B runs: targets switchboardB1/switchboardB2 (ports 8096/8097)")
	fs.StringVar(&p.sbArgs, "sb-args", "", "extra switchboard flags, space-separated (e.g. \"--log-level warn\")")
	fs.StringVar(&p.peers, "peers", "", "directory of peer configs (default: ../shared/reference/proxy-peers beside the repo, or /work/shared/reference/proxy-peers)")
	fs.StringVar(&p.proxy2CPUs, "proxy2-cpus", "", "taskset CPU list for 2-thread proxies (empty: unpinned)")
	fs.StringVar(&p.backendCPUs, "backend-cpus", "", "taskset CPU list for the backends (empty: unpinned)")
	fs.StringVar(&wsImpl, "ws", wsImpl, "WebSocket implementation of backends and load: auto|internal|mini")
}

// proxyTarget is one thing under test.
type proxyTarget struct {
	Name    string
	Kind    string // direct, switchboard, haproxy, nginx, caddy
	Threads int
	Port    int
	Admin   string // switchboard admin address
	B       bool   // switchboard: run the -switchboard-b binary (A/B runs)
	proc    *Proc
	skip    string // why it is skipped
}

func (t *proxyTarget) url(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", t.Port, path)
}

type proxyRaw struct {
	Config  map[string]any                  `json:"config"`
	Wrk     map[string][]WrkResult          `json:"wrk"`
	Rate    map[string][]RateResult         `json:"rate"`
	WS      map[string][]WSEchoResult       `json:"ws"`
	Idle    map[string]IdleResult           `json:"idle"`
	Skipped map[string]string               `json:"skipped"`
	Offered float64                         `json:"offered_rate"`
	Extra   map[string]map[string]any       `json:"extra,omitempty"`
	Ratios  map[string]map[string][]float64 `json:"ratios"`
}

// IdleResult is the idle-tunnel measurement of one target.
type IdleResult struct {
	Conns             int     `json:"conns"`
	Failed            int     `json:"failed"`
	RSSBeforeKiB      int64   `json:"rss_before_kib"`
	RSSAfterKiB       int64   `json:"rss_after_kib"`
	KiBPerConn        float64 `json:"kib_per_conn"`
	FDsBefore         int     `json:"fds_before"`
	FDsAfter          int     `json:"fds_after"`
	FDsPerConn        float64 `json:"fds_per_conn"`
	GoroutinesBefore  int     `json:"goroutines_before"`
	GoroutinesAfter   int     `json:"goroutines_after"`
	GoroutinesPerConn float64 `json:"goroutines_per_conn"`
	ThreadsAfter      int     `json:"threads_after"`
	Processes         int     `json:"processes"`
}

func (p *proxyScenario) Run(ctx context.Context, env *Env) (*Report, error) {
	QuickDefault(env, "runs", &p.runs, 1)
	QuickDefault(env, "d", &p.dur, 3*time.Second)
	QuickDefault(env, "idle", &p.idleConns, 1000)
	QuickDefault(env, "idle-wait", &p.idleWait, 3*time.Second)
	if p.rateDur == 0 {
		p.rateDur = p.dur
	}
	if p.wsDur == 0 {
		p.wsDur = p.dur
	}
	phase := map[string]bool{}
	for _, s := range strings.Split(p.phases, ",") {
		phase[strings.TrimSpace(s)] = true
	}
	raw := &proxyRaw{
		Wrk: map[string][]WrkResult{}, Rate: map[string][]RateResult{}, WS: map[string][]WSEchoResult{},
		Idle: map[string]IdleResult{}, Skipped: map[string]string{}, Ratios: map[string]map[string][]float64{},
		Config: map[string]any{"runs": p.runs, "d": p.dur.String(), "c": p.conns, "t": p.wrkThreads,
			"ws_c": p.wsConns, "idle": p.idleConns, "idle_wait": p.idleWait.String(),
			"load_cpus": env.LoadCPUs, "server_cpus": env.ServerCPUs, "proxy2_cpus": p.proxy2CPUs},
	}
	rep := &Report{Title: "proxy: Switchboard vs HAProxy, nginx, Caddy (issue 3)", Raw: raw}

	targets, err := p.makeTargets(env)
	if err != nil {
		return nil, err
	}
	// Backends.
	var backends []*Proc
	for i := 1; i <= 3; i++ {
		addr := fmt.Sprintf("127.0.0.1:900%d", i)
		if !portFree(addr) {
			return nil, fmt.Errorf("%s is in use: stop what listens there", addr)
		}
		b, err := env.Start(ProcSpec{Name: fmt.Sprintf("backend%d", i), CPUs: p.backendCPUs,
			Argv: env.SelfArgv("backend", "-addr", addr, "-ws", wsImpl)})
		if err != nil {
			return nil, err
		}
		backends = append(backends, b)
		if err := waitHTTP(ctx, "http://"+addr+"/", 10*time.Second, b); err != nil {
			return nil, err
		}
	}
	targets[0].proc = backends[0] // direct
	rep.Sections = append(rep.Sections, Section{Notes: []string{
		fmt.Sprintf("WebSocket implementation in backends/load: %s", implName()),
		fmt.Sprintf("pinning: load on CPUs %q, 1-thread proxies on %q, 2-thread proxies on %q (empty = unpinned), backends on %q",
			env.LoadCPUs, env.ServerCPUs, p.proxy2CPUs, p.backendCPUs),
	}})

	live := func() []*proxyTarget {
		var out []*proxyTarget
		for _, t := range targets {
			if t.skip == "" {
				out = append(out, t)
			}
		}
		return out
	}
	if phase["wrk"] || phase["rate"] || phase["ws"] {
		for _, t := range targets[1:] {
			if t.skip != "" {
				continue
			}
			if err := p.startTarget(ctx, env, t); err != nil {
				t.skip = err.Error()
				fmt.Fprintf(os.Stderr, "sbbench: %s skipped: %v\n", t.Name, err)
			}
		}
	}
	rotate := func(ts []*proxyTarget, r int) []*proxyTarget {
		out := make([]*proxyTarget, len(ts))
		for i := range ts {
			out[i] = ts[(i+r)%len(ts)]
		}
		return out
	}

	// Phase 1: wrk, interleaved.
	if phase["wrk"] {
		for r := range p.runs {
			var direct float64 = math.NaN()
			res := map[string]float64{}
			for _, t := range rotate(live(), r) {
				if ctx.Err() != nil {
					return rep, ctx.Err()
				}
				cpu0 := t.cpuTicks()
				w, err := runWrk(ctx, env, fmt.Sprintf("wrk-%s-r%d", t.Name, r), t.url("/"), p.wrkThreads, p.conns, p.dur)
				if err != nil {
					fmt.Fprintln(os.Stderr, "sbbench:", err)
					w = WrkResult{ReqPerSec: math.NaN(), P99us: math.NaN()}
				}
				w.TargetCPU = float64(t.cpuTicks()-cpu0) / clkTck
				raw.Wrk[t.Name] = append(raw.Wrk[t.Name], w)
				res[t.Name] = w.ReqPerSec
				if t.Kind == "direct" {
					direct = w.ReqPerSec
				}
				fmt.Fprintf(os.Stderr, "wrk run %d %-13s %10.0f req/s p99 %8.0f µs busy %.2f target CPU %.2f µs/req\n", r+1, t.Name, w.ReqPerSec, w.P99us, w.Busy, cpuPerOp(w.TargetCPU, w.ReqPerSec*p.dur.Seconds()))
			}
			for name, v := range res {
				addRatio(raw, "wrk", name, v/direct)
			}
		}
		tb := &Table{Header: []string{"target", "threads", "req/s (median)", "ratio to direct (median)", "wrk p99 µs (median)", "target CPU µs/req (median)", "non-2xx+socket errors", "wrk busy (max)", "noise (max)"}}
		for _, t := range targets {
			rs := raw.Wrk[t.Name]
			if t.skip != "" && len(rs) == 0 {
				tb.AddRow(t.Name, threadsCell(t), "skipped: "+shortErr(t.skip), "", "", "", "", "", "")
				continue
			}
			var rps, p99, cpu []float64
			var errs int64
			busy, noise := 0.0, 0.0
			for _, w := range rs {
				rps = append(rps, w.ReqPerSec)
				cpu = append(cpu, cpuPerOp(w.TargetCPU, w.ReqPerSec*p.dur.Seconds()))
				p99 = append(p99, w.P99us)
				errs += w.Non2xx + w.SockErrs
				busy = math.Max(busy, w.Busy)
				noise = math.Max(noise, w.Foreign)
			}
			tb.AddRow(t.Name, threadsCell(t), fmtK(median(rps)), fmtF(median(raw.Ratios["wrk"][t.Name]), 3),
				fmtF(median(p99), 0), fmtF(median(cpu), 2), strconv.FormatInt(errs, 10), busyCell(busy), noiseCell(noise))
		}
		rep.Sections = append(rep.Sections, Section{Heading: "HTTP GET / throughput (wrk)",
			Notes: []string{fmt.Sprintf("`wrk -t%d -c%d -d%s --latency`, %d interleaved run(s); ratio = target/direct in the same round", p.wrkThreads, p.conns, p.dur, p.runs)},
			Table: tb})
	}

	// Phase 2: p99 at a fixed offered rate.
	if phase["rate"] {
		offered := p.rate
		basis := "flag -rate"
		if offered == 0 {
			best := 0.0
			for _, t := range targets {
				if t.Kind != "haproxy" {
					continue
				}
				var rps []float64
				for _, w := range raw.Wrk[t.Name] {
					rps = append(rps, w.ReqPerSec)
				}
				if m := median(rps); !math.IsNaN(m) && m > best {
					best, basis = m, fmt.Sprintf("%.2f × median req/s of %s (%s)", p.rateFrac, t.Name, fmtK(m))
				}
			}
			offered = p.rateFrac * best
		}
		if offered <= 0 {
			rep.Sections = append(rep.Sections, Section{Heading: "p99 at a fixed offered rate",
				Notes: []string{"skipped: no HAProxy wrk result to derive the rate from (pass -rate)"}})
		} else {
			raw.Offered = offered
			for r := range p.runs {
				for _, t := range rotate(live(), r) {
					if ctx.Err() != nil {
						return rep, ctx.Err()
					}
					var rr RateResult
					fc, err := runJSONChild(ctx, env, ProcSpec{Name: fmt.Sprintf("rate-%s-r%d", t.Name, r), CPUs: env.LoadCPUs,
						Argv: env.SelfArgv("rate", "-url", t.url("/"), "-rate", fmt.Sprintf("%.0f", offered),
							"-d", p.rateDur.String(), "-c", strconv.Itoa(p.conns))}, p.rateDur+60*time.Second, &rr)
					if err != nil {
						fmt.Fprintln(os.Stderr, "sbbench:", err)
						rr = RateResult{P99us: math.NaN(), P50us: math.NaN(), P999us: math.NaN(), Achieved: math.NaN()}
					}
					rr.Foreign = fc
					raw.Rate[t.Name] = append(raw.Rate[t.Name], rr)
					fmt.Fprintf(os.Stderr, "rate run %d %-13s offered %.0f achieved %.0f p99 %.0f µs errors %d late %d busy %.2f\n",
						r+1, t.Name, offered, rr.Achieved, rr.P99us, rr.Errors, rr.Late, rr.Busy)
				}
			}
			tb := &Table{Header: []string{"target", "achieved req/s", "p50 µs", "p99 µs (median)", "p99.9 µs", "errors", "late", "generator busy (max)", "noise (max)"}}
			for _, t := range targets {
				rs := raw.Rate[t.Name]
				if len(rs) == 0 {
					continue
				}
				var a, p50, p99, p999 []float64
				var errs, late int64
				busy, noise := 0.0, 0.0
				for _, x := range rs {
					a, p50, p99, p999 = append(a, x.Achieved), append(p50, x.P50us), append(p99, x.P99us), append(p999, x.P999us)
					errs += x.Errors
					late += x.Late
					busy = math.Max(busy, x.Busy)
					noise = math.Max(noise, x.Foreign)
				}
				tb.AddRow(t.Name, fmtK(median(a)), fmtF(median(p50), 0), fmtF(median(p99), 0), fmtF(median(p999), 0),
					strconv.FormatInt(errs, 10), strconv.FormatInt(late, 10), busyCell(busy), noiseCell(noise))
			}
			rep.Sections = append(rep.Sections, Section{Heading: "p99 at a fixed offered rate (sbbench rate: open loop, latency from each request's due time)",
				Notes: []string{fmt.Sprintf("offered %s req/s = %s; %d connections, %s per run, %d run(s)", fmtK(offered), basis, p.conns, p.rateDur, p.runs)},
				Table: tb})
		}
	}

	// Phase 3: WebSocket echo.
	if phase["ws"] {
		for r := range p.runs {
			direct := math.NaN()
			res := map[string]float64{}
			for _, t := range rotate(live(), r) {
				if ctx.Err() != nil {
					return rep, ctx.Err()
				}
				var wr WSEchoResult
				cpu0 := t.cpuTicks()
				fc, err := runJSONChild(ctx, env, ProcSpec{Name: fmt.Sprintf("wsecho-%s-r%d", t.Name, r), CPUs: env.LoadCPUs,
					Argv: env.SelfArgv("wsecho", "-url", strings.Replace(t.url("/ws"), "http://", "ws://", 1),
						"-c", strconv.Itoa(p.wsConns), "-d", p.wsDur.String(), "-ws", wsImpl)}, p.wsDur+60*time.Second, &wr)
				if err != nil {
					fmt.Fprintln(os.Stderr, "sbbench:", err)
					wr = WSEchoResult{Rate: math.NaN(), P99us: math.NaN()}
				}
				wr.Foreign = fc
				wr.TargetCPU = float64(t.cpuTicks()-cpu0) / clkTck
				raw.WS[t.Name] = append(raw.WS[t.Name], wr)
				res[t.Name] = wr.Rate
				if t.Kind == "direct" {
					direct = wr.Rate
				}
				fmt.Fprintf(os.Stderr, "ws run %d %-13s %10.0f msg/s errors %d busy %.2f target CPU %.2f µs/msg\n", r+1, t.Name, wr.Rate, wr.Errors, wr.Busy, cpuPerOp(wr.TargetCPU, float64(wr.Msgs)))
			}
			for name, v := range res {
				addRatio(raw, "ws", name, v/direct)
			}
		}
		tb := &Table{Header: []string{"target", "round trips/s (median)", "ratio to direct (median)", "p99 µs (median)", "target CPU µs/round trip (median)", "errors", "client busy (max)", "noise (max)"}}
		for _, t := range targets {
			rs := raw.WS[t.Name]
			if len(rs) == 0 {
				continue
			}
			var rate, p99, cpu []float64
			var errs int64
			busy, noise := 0.0, 0.0
			for _, x := range rs {
				rate, p99 = append(rate, x.Rate), append(p99, x.P99us)
				cpu = append(cpu, cpuPerOp(x.TargetCPU, float64(x.Msgs)))
				errs += x.Errors
				busy = math.Max(busy, x.Busy)
				noise = math.Max(noise, x.Foreign)
			}
			tb.AddRow(t.Name, fmtK(median(rate)), fmtF(median(raw.Ratios["ws"][t.Name]), 3), fmtF(median(p99), 0), fmtF(median(cpu), 2), strconv.FormatInt(errs, 10), busyCell(busy), noiseCell(noise))
		}
		rep.Sections = append(rep.Sections, Section{Heading: "WebSocket echo through the proxy (sbbench wsecho)",
			Notes: []string{fmt.Sprintf("%d connections each ping-ponging a 32-byte text message for %s, %d run(s)", p.wsConns, p.wsDur, p.runs)},
			Table: tb})
	}

	// Phase 4: idle tunnels, one target at a time on a fresh process.
	if phase["idle"] {
		for _, t := range targets[1:] {
			if t.proc != nil {
				t.proc.Stop()
				t.proc = nil
			}
		}
		for _, t := range targets[1:] {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			if t.skip != "" {
				continue
			}
			ir, err := p.idleOne(ctx, env, t)
			if err != nil {
				fmt.Fprintf(os.Stderr, "sbbench: idle %s: %v\n", t.Name, err)
				raw.Skipped["idle-"+t.Name] = err.Error()
				continue
			}
			raw.Idle[t.Name] = ir
			fmt.Fprintf(os.Stderr, "idle %-13s conns %d KiB/conn %.2f fds/conn %.2f goroutines/conn %.2f\n", t.Name, ir.Conns, ir.KiBPerConn, ir.FDsPerConn, ir.GoroutinesPerConn)
		}
		tb := &Table{Header: []string{"target", "tunnels", "RSS before KiB", "RSS after KiB", "KiB/tunnel", "fds/tunnel", "goroutines/tunnel", "threads", "processes"}}
		for _, t := range targets[1:] {
			ir, ok := raw.Idle[t.Name]
			if !ok {
				if e := raw.Skipped["idle-"+t.Name]; e != "" {
					tb.AddRow(t.Name, "failed: "+shortErr(e), "", "", "", "", "", "", "")
				}
				continue
			}
			g := "n/a"
			if ir.GoroutinesAfter > 0 {
				g = fmtF(ir.GoroutinesPerConn, 3)
			}
			conns := strconv.Itoa(ir.Conns)
			if ir.Failed > 0 {
				conns += fmt.Sprintf(" (%d failed)", ir.Failed)
			}
			tb.AddRow(t.Name, conns, fmtK(float64(ir.RSSBeforeKiB)), fmtK(float64(ir.RSSAfterKiB)), fmtF(ir.KiBPerConn, 2),
				fmtF(ir.FDsPerConn, 2), g, strconv.Itoa(ir.ThreadsAfter), strconv.Itoa(ir.Processes))
		}
		rep.Sections = append(rep.Sections, Section{Heading: "Idle proxied WebSockets",
			Notes: []string{fmt.Sprintf("%d WebSockets opened through a freshly started proxy (holders of ≤ %d each), idle %s; (RSS after − before)/N summed over the proxy's processes (VmRSS), fds from /proc/PID/fd", p.idleConns, p.perProc, p.idleWait)},
			Table: tb})
	}
	for _, t := range targets {
		if t.skip != "" {
			raw.Skipped[t.Name] = t.skip
		}
	}
	rep.AddSkipped(raw.Skipped)
	return rep, nil
}

// cpuTicks is the CPU time (clock ticks) of t's process tree so far, 0
// when it has no process.
func (t *proxyTarget) cpuTicks() int64 {
	if t.proc == nil {
		return 0
	}
	var n int64
	for _, pid := range treePIDs(t.proc.PID()) {
		if v, err := cpuTicks(pid); err == nil {
			n += v
		}
	}
	return n
}

// cpuPerOp is CPU microseconds per operation (NaN without operations).
func cpuPerOp(cpuSec, ops float64) float64 {
	if !(ops > 0) {
		return math.NaN()
	}
	return cpuSec * 1e6 / ops
}

func addRatio(raw *proxyRaw, phase, name string, v float64) {
	if raw.Ratios[phase] == nil {
		raw.Ratios[phase] = map[string][]float64{}
	}
	raw.Ratios[phase][name] = append(raw.Ratios[phase][name], v)
}

func busyCell(b float64) string {
	s := fmtF(b, 2)
	if b > 0.9 {
		s += " ⚠ load-bound"
	}
	return s
}

// noiseCell formats the CPUs other processes kept busy during a
// measurement; over 0.1 of a CPU the figure is flagged.
func noiseCell(c float64) string {
	s := fmtF(c, 2)
	if c > 0.1 {
		s += " ⚠ noisy"
	}
	return s
}

func shortErr(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

func (p *proxyScenario) makeTargets(env *Env) ([]*proxyTarget, error) {
	all := map[string]*proxyTarget{
		"direct":        {Name: "direct", Kind: "direct", Threads: 0, Port: 9001},
		"switchboard1":  {Name: "switchboard1", Kind: "switchboard", Threads: 1, Port: 8086, Admin: "127.0.0.1:9186"},
		"switchboard2":  {Name: "switchboard2", Kind: "switchboard", Threads: 2, Port: 8087, Admin: "127.0.0.1:9187"},
		"switchboardB1": {Name: "switchboardB1", Kind: "switchboard", Threads: 1, Port: 8096, Admin: "127.0.0.1:9196", B: true},
		"switchboardB2": {Name: "switchboardB2", Kind: "switchboard", Threads: 2, Port: 8097, Admin: "127.0.0.1:9197", B: true},
		"haproxy1":      {Name: "haproxy1", Kind: "haproxy", Threads: 1, Port: 8083},
		"haproxy2":      {Name: "haproxy2", Kind: "haproxy", Threads: 2, Port: 8084},
		"nginx1":        {Name: "nginx1", Kind: "nginx", Threads: 1, Port: 8081},
		"nginx2":        {Name: "nginx2", Kind: "nginx", Threads: 2, Port: 8082},
		"caddy":         {Name: "caddy", Kind: "caddy", Threads: 2, Port: 8085},
		"httputil":      {Name: "httputil", Kind: "httputil", Threads: 2, Port: 8088},
	}
	out := []*proxyTarget{all["direct"]}
	for _, n := range strings.Split(p.targets, ",") {
		n = strings.TrimSpace(n)
		if n == "direct" || n == "" {
			continue
		}
		t, ok := all[n]
		if !ok {
			return nil, fmt.Errorf("unknown target %q", n)
		}
		out = append(out, t)
	}
	// Prepare configs and binaries once.
	peers := p.peers
	if peers == "" {
		for _, c := range []string{filepath.Join(env.Root, "..", "shared", "reference", "proxy-peers"), "/work/shared/reference/proxy-peers"} {
			if _, err := os.Stat(filepath.Join(c, "haproxy1.cfg")); err == nil {
				peers = c
				break
			}
		}
	}
	for _, t := range out[1:] {
		switch t.Kind {
		case "switchboard":
			if t.B {
				if p.sbBinB == "" {
					t.skip = "no -switchboard-b binary"
				} else if _, err := os.Stat(p.sbBinB); err != nil {
					t.skip = err.Error()
				}
				continue
			}
			if err := p.buildSwitchboard(env); err != nil {
				t.skip = err.Error()
			}
		case "haproxy", "nginx", "caddy":
			bin := t.Kind
			if _, err := exec.LookPath(bin); err != nil {
				t.skip = bin + " not installed"
				continue
			}
			if peers == "" {
				t.skip = "peer configs not found (pass -peers)"
				continue
			}
			if err := p.writePeerConfig(env, peers, t); err != nil {
				t.skip = err.Error()
			}
		}
	}
	return out, nil
}

// buildSwitchboard builds ./cmd/switchboard once (unless -switchboard is given).
func (p *proxyScenario) buildSwitchboard(env *Env) error {
	if p.sbBin != "" {
		if _, err := os.Stat(p.sbBin); err != nil {
			return err
		}
		return nil
	}
	bin := filepath.Join(env.BinDir, "switchboard")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/switchboard")
	cmd.Dir = env.Root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("build ./cmd/switchboard: %s", strings.TrimSpace(string(out)))
	}
	p.sbBin = bin
	return nil
}

func peerFile(t *proxyTarget) string {
	switch t.Kind {
	case "haproxy":
		return t.Name + ".cfg"
	case "nginx":
		return t.Name + ".conf"
	}
	return "Caddyfile"
}

// writePeerConfig copies a reference config with its /tmp paths rewritten
// under env.Tmp.
func (p *proxyScenario) writePeerConfig(env *Env, peers string, t *proxyTarget) error {
	b, err := os.ReadFile(filepath.Join(peers, peerFile(t)))
	if err != nil {
		return err
	}
	s := strings.ReplaceAll(string(b), "/tmp/bench/proxy/", env.Tmp+"/")
	for _, d := range []string{"tmp", "log", "caddy-home"} {
		os.MkdirAll(filepath.Join(env.Tmp, d), 0o755)
	}
	if !strings.Contains(s, fmt.Sprintf("127.0.0.1:%d", t.Port)) {
		return fmt.Errorf("%s does not listen on 127.0.0.1:%d as expected", peerFile(t), t.Port)
	}
	return os.WriteFile(filepath.Join(env.Tmp, peerFile(t)), []byte(s), 0o644)
}

func (p *proxyScenario) cpusFor(env *Env, t *proxyTarget) string {
	if t.Threads == 1 {
		return env.ServerCPUs
	}
	return p.proxy2CPUs
}

// startTarget starts t's proxy and waits until it proxies GET /.
func (p *proxyScenario) startTarget(ctx context.Context, env *Env, t *proxyTarget) error {
	addr := fmt.Sprintf("127.0.0.1:%d", t.Port)
	if !portFree(addr) {
		return fmt.Errorf("%s is in use", addr)
	}
	spec := ProcSpec{Name: t.Name, CPUs: p.cpusFor(env, t)}
	cfg := filepath.Join(env.Tmp, peerFile(t))
	switch t.Kind {
	case "switchboard":
		bin := p.sbBin
		if t.B {
			bin = p.sbBinB
		}
		spec.Argv = []string{bin, "--ip", "127.0.0.1", "--port", strconv.Itoa(t.Port), "--admin", t.Admin}
		for i := 1; i <= 3; i++ {
			spec.Argv = append(spec.Argv, "--backend", fmt.Sprintf("http://127.0.0.1:900%d", i))
		}
		spec.Argv = append(spec.Argv, strings.Fields(p.sbArgs)...)
		spec.Env = []string{"GOMAXPROCS=" + strconv.Itoa(t.Threads), "GOTRACEBACK=all"}
	case "haproxy":
		spec.Argv = []string{"haproxy", "-db", "-f", cfg}
	case "nginx":
		spec.Argv = []string{"nginx", "-c", cfg, "-p", env.Tmp, "-e", filepath.Join(env.Tmp, "log", t.Name+".error.log")}
	case "httputil":
		spec.Argv = env.SelfArgv("goproxy", "-addr", addr)
		spec.Env = []string{"GOMAXPROCS=" + strconv.Itoa(t.Threads), "GOTRACEBACK=all"}
	case "caddy":
		home := filepath.Join(env.Tmp, "caddy-home")
		spec.Argv = []string{"caddy", "run", "--config", cfg, "--adapter", "caddyfile"}
		spec.Env = []string{"HOME=" + home, "XDG_DATA_HOME=" + home, "XDG_CONFIG_HOME=" + home}
	default:
		return errors.New("no process for " + t.Kind)
	}
	pr, err := env.Start(spec)
	if err != nil {
		return err
	}
	t.proc = pr
	if err := waitHTTP(ctx, t.url("/"), 15*time.Second, pr); err != nil {
		pr.Stop()
		t.proc = nil
		return fmt.Errorf("%w: %s", err, tailFile(pr.Log, 3))
	}
	// Check it really proxies.
	resp, err := http.Get(t.url("/"))
	if err != nil {
		pr.Stop()
		t.proc = nil
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != string(helloBody) {
		pr.Stop()
		t.proc = nil
		return fmt.Errorf("GET / through %s: %d %q", t.Name, resp.StatusCode, body)
	}
	return nil
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

// idleOne measures idle tunnels on a freshly started t.
func (p *proxyScenario) idleOne(ctx context.Context, env *Env, t *proxyTarget) (IdleResult, error) {
	var ir IdleResult
	if err := p.startTarget(ctx, env, t); err != nil {
		return ir, err
	}
	pr := t.proc
	defer func() {
		pr.Stop()
		t.proc = nil
	}()
	// One tunnel opened and closed first, so lazily initialised state is in "before".
	warmTunnel(ctx, t)
	if err := sleepCtx(ctx, time.Second); err != nil {
		return ir, err
	}
	pid := t.proc.PID()
	before := SampleTree(pid)
	ir.RSSBeforeKiB, ir.FDsBefore = before.RSSKiB, before.FDs
	ir.GoroutinesBefore = goroutines(t)

	stopHolders, err := startHolders(ctx, env, p.idleConns, p.perProc, p.idleWait, func(i, n int) ProcSpec {
		return ProcSpec{Name: fmt.Sprintf("wshold-%s-%d", t.Name, i), Capture: true, CPUs: env.LoadCPUs,
			Argv: env.SelfArgv("wshold", "-url", strings.Replace(t.url("/ws"), "http://", "ws://", 1),
				"-n", strconv.Itoa(n), "-max", (p.idleWait + 10*time.Minute).String(), "-ws", wsImpl)}
	}, &ir)
	defer stopHolders()
	if err != nil {
		return ir, err
	}
	after := SampleTree(pid)
	ir.RSSAfterKiB, ir.FDsAfter, ir.ThreadsAfter, ir.Processes = after.RSSKiB, after.FDs, after.Threads, after.Processes
	ir.GoroutinesAfter = goroutines(t)
	if (t.Kind == "switchboard" || t.Kind == "httputil") && ir.GoroutinesAfter == 0 {
		// No goroutine count on the admin listener: make the process dump
		// every goroutine (GOTRACEBACK=all, SIGQUIT) and count the dump.
		ir.GoroutinesAfter = goroutineDump(t.proc)
		if ir.GoroutinesAfter > 0 {
			ir.GoroutinesBefore = p.baselineGoroutines(ctx, env, t)
		}
	}
	ir.perConn()
	if ir.GoroutinesBefore > 0 && ir.GoroutinesAfter > 0 {
		ir.GoroutinesPerConn = float64(ir.GoroutinesAfter-ir.GoroutinesBefore) / float64(ir.Conns)
	}
	return ir, nil
}

// warmTunnel opens one tunnel to t, echoes one message and closes it, so
// lazily initialised state exists before a measurement starts.
func warmTunnel(ctx context.Context, t *proxyTarget) {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if c, err := wsDial(wctx, strings.Replace(t.url("/ws"), "http://", "ws://", 1)); err == nil {
		c.Write(1, []byte("warm"))
		c.Read()
		c.Close()
	}
}

// goroutines asks a Switchboard admin listener for its goroutine count
// (pprof's goroutine profile header or the Prometheus go_goroutines gauge);
// 0 when unavailable.
func goroutines(t *proxyTarget) int {
	if t.Admin == "" {
		return 0
	}
	c := &http.Client{Timeout: 3 * time.Second}
	for _, path := range []string{"/debug/pprof/goroutine?debug=1", "/metrics", "/debug/vars"} {
		resp, err := c.Get("http://" + t.Admin + path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(io.LimitReader(resp.Body, 8<<20))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		n := 0
		for sc.Scan() && resp.StatusCode == 200 {
			l := sc.Text()
			if rest, ok := strings.CutPrefix(l, "goroutine profile: total "); ok {
				n, _ = strconv.Atoi(strings.TrimSpace(rest))
				break
			}
			if rest, ok := strings.CutPrefix(l, "go_goroutines "); ok {
				f, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
				n = int(f)
				break
			}
		}
		resp.Body.Close()
		if n > 0 {
			return n
		}
	}
	return 0
}

// goroutineDump sends SIGQUIT to a Go process started with GOTRACEBACK=all
// (which then exits) and counts the goroutines in the dump in its log.
func goroutineDump(p *Proc) int {
	if err := p.Cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		return 0
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		return 0
	}
	b, err := os.ReadFile(p.Log)
	if err != nil {
		return 0
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "goroutine ") && strings.Contains(l, " [") {
			n++
		}
	}
	return n
}

// baselineGoroutines starts t afresh, opens and closes one tunnel as the
// idle measurement does, and counts its goroutines by dump.
func (p *proxyScenario) baselineGoroutines(ctx context.Context, env *Env, t *proxyTarget) int {
	name := t.Name
	t.Name = name + "-baseline"
	err := p.startTarget(ctx, env, t)
	t.Name = name
	if err != nil {
		return 0
	}
	defer func() {
		t.proc.Stop()
		t.proc = nil
	}()
	warmTunnel(ctx, t)
	if sleepCtx(ctx, time.Second) != nil {
		return 0
	}
	return goroutineDump(t.proc)
}

func threadsCell(t *proxyTarget) string {
	if t.Kind == "direct" {
		return "–"
	}
	return strconv.Itoa(t.Threads)
}
