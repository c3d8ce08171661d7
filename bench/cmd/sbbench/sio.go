package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// sioScenario is issue 2's benchmark: our Socket.IO server (sbbench
// sioserver, on internal/sio) and the reference socket.io@4.8.4 server
// (bench/node/ref-server.js) side by side in one run under the same load
// from several processes of our Go client and of the npm client. The binding
// figures are server CPU time per event and per ack.
type sioScenario struct {
	runs       int
	dur        time.Duration
	warm       time.Duration
	goProcs    int
	nodeProcs  int
	conns      int
	inflight   int
	modes      string
	targets    string
	idleConns  int
	idleWait   time.Duration
	perProc    int
	holdClient string
	size       int
	phases     string
	coalesce   time.Duration
}

func (s *sioScenario) Name() string { return "sio" }
func (s *sioScenario) Summary() string {
	return "issue 2: our Socket.IO server vs socket.io@4.8.4: CPU per event/ack, events/s, RSS per idle connection"
}

func (s *sioScenario) Flags(fs *flag.FlagSet) {
	fs.IntVar(&s.runs, "runs", 5, "interleaved runs")
	fs.DurationVar(&s.dur, "d", 10*time.Second, "load duration per measurement")
	fs.DurationVar(&s.warm, "warm", time.Second, "time after load start before the measuring window opens")
	fs.IntVar(&s.goProcs, "go-procs", 2, "load processes on our Go client")
	fs.IntVar(&s.nodeProcs, "node-procs", 2, "load processes on the npm socket.io-client")
	fs.IntVar(&s.conns, "conns", 4, "connections per load process")
	fs.IntVar(&s.inflight, "inflight", 64, "acks in flight in total (split evenly over load processes)")
	fs.StringVar(&s.modes, "modes", "ev,ack", "load modes: ev (unacked events), ack (acked echo)")
	fs.StringVar(&s.targets, "targets", "go,node", "servers: go (ours, defaults), gonc (ours with read coalescing off), node (socket.io@4.8.4)")
	fs.DurationVar(&s.coalesce, "coalesce", 0, "the go target's eio.Config.ReadCoalesce (0: its default)")
	fs.IntVar(&s.idleConns, "idle", 9000, "idle connections for the RSS measurement")
	fs.DurationVar(&s.idleWait, "idle-wait", 30*time.Second, "idle time before sampling RSS")
	fs.IntVar(&s.perProc, "per-proc", 4500, "idle connections per holder process (≤ 9,990)")
	fs.StringVar(&s.holdClient, "hold-client", "auto", "idle holders: go (our client), node (npm client), auto (go if internal/sio works)")
	fs.IntVar(&s.size, "size", 32, "payload: a JSON string of this many characters")
	fs.StringVar(&s.phases, "phases", "load,idle", "phases: load, idle")
}

type sioTarget struct {
	Name string // "go", "gonc" (ours, read coalescing off) or "node"
	Port int
	proc *Proc
	skip string
}

// ours reports whether t is our server (with or without read coalescing).
func (t *sioTarget) ours() bool { return t.Name == "go" || t.Name == "gonc" }

func (t *sioTarget) base() string { return fmt.Sprintf("http://127.0.0.1:%d", t.Port) }

// SIOMeasure is one (target, mode, run) measurement.
type SIOMeasure struct {
	Target       string          `json:"target"`
	Mode         string          `json:"mode"`
	Run          int             `json:"run"`
	WindowSecs   float64         `json:"window_secs"`
	Events       int64           `json:"events"` // server-counted from load start to settled
	Rate         float64         `json:"rate"`   // events (or acks) per second at the server, steady window
	ServerCPU    float64         `json:"server_cpu_secs"`
	CPUPerEvUs   float64         `json:"cpu_per_event_us"`
	ServerBusy   float64         `json:"server_busy"` // server CPU / time from load start to settled
	LoadBusy     float64         `json:"load_busy"`   // loaders' CPU / window / load CPUs
	Sent         int64           `json:"sent"`        // Σ client-side sent
	Acked        int64           `json:"acked"`
	ServerTotal  int64           `json:"server_total"` // server count over the whole run
	Lost         int64           `json:"lost"`         // ev mode: sent − server_total
	ClientErrors int64           `json:"client_errors"`
	Foreign      float64         `json:"foreign_cores"` // CPUs other processes kept busy during the load
	Loaders      []SIOLoadResult `json:"loaders"`
}

type sioRaw struct {
	Config   map[string]any        `json:"config"`
	Measures []SIOMeasure          `json:"measures"`
	Idle     map[string]IdleResult `json:"idle"`
	Skipped  map[string]string     `json:"skipped"`
}

func (s *sioScenario) Run(ctx context.Context, env *Env) (*Report, error) {
	QuickDefault(env, "runs", &s.runs, 1)
	QuickDefault(env, "d", &s.dur, 3*time.Second)
	QuickDefault(env, "warm", &s.warm, 500*time.Millisecond)
	QuickDefault(env, "idle", &s.idleConns, 1000)
	QuickDefault(env, "idle-wait", &s.idleWait, 3*time.Second)
	if s.dur < s.warm+time.Second {
		return nil, fmt.Errorf("-d must exceed -warm by at least 1s")
	}
	raw := &sioRaw{Idle: map[string]IdleResult{}, Skipped: map[string]string{}, Config: map[string]any{
		"runs": s.runs, "d": s.dur.String(), "warm": s.warm.String(), "go_procs": s.goProcs, "node_procs": s.nodeProcs,
		"conns": s.conns, "inflight": s.inflight, "idle": s.idleConns, "idle_wait": s.idleWait.String(),
		"load_cpus": env.LoadCPUs, "server_cpus": env.ServerCPUs, "size": s.size}}
	rep := &Report{Title: "sio: our Socket.IO server vs socket.io@4.8.4 (issue 2)", Raw: raw}

	var targets []*sioTarget
	for _, n := range strings.Split(s.targets, ",") {
		switch strings.TrimSpace(n) {
		case "go":
			targets = append(targets, &sioTarget{Name: "go", Port: 8201})
		case "gonc":
			targets = append(targets, &sioTarget{Name: "gonc", Port: 8203})
		case "node":
			targets = append(targets, &sioTarget{Name: "node", Port: 8202})
		case "":
		default:
			return nil, fmt.Errorf("unknown target %q", n)
		}
	}
	sioErr := sioReady()
	nodeMods := filepath.Join(env.Root, "node_modules", "socket.io")
	_, nodeErr := os.Stat(nodeMods)
	for _, t := range targets {
		if t.ours() && sioErr != nil {
			t.skip = sioErr.Error()
		}
		if t.Name == "node" && nodeErr != nil {
			t.skip = "node_modules/socket.io missing: run npm ci"
		}
	}
	goProcs, nodeProcs := s.goProcs, s.nodeProcs
	var loadNotes []string
	if sioErr != nil && goProcs > 0 {
		loadNotes = append(loadNotes, fmt.Sprintf("Go client load replaced by npm load (%v)", sioErr))
		nodeProcs += goProcs
		goProcs = 0
	}
	if nodeErr != nil && nodeProcs > 0 {
		return nil, fmt.Errorf("npm modules missing (%s): run npm ci", nodeMods)
	}
	loaders := goProcs + nodeProcs
	if loaders == 0 {
		return nil, fmt.Errorf("no load processes")
	}
	per := max(1, s.inflight/loaders)
	loadNotes = append(loadNotes,
		fmt.Sprintf("load: %d Go-client + %d npm-client processes × %d connections, WebSocket transport; ack mode: %d acks in flight per process (%d in total); ev mode: unacked events as fast as each client drains",
			goProcs, nodeProcs, s.conns, per, per*loaders),
		fmt.Sprintf("servers pinned to CPUs %q, load to %q; rate window: %s after start to 0.5 s before the end of each %s load; server CPU = utime+stime of the server process (all threads) from load start until its event count settles after the load, ÷ events handled in that span (each client ends with one acked barrier so nothing is lost by exiting)",
			env.ServerCPUs, env.LoadCPUs, s.warm, s.dur),
		fmt.Sprintf("%d interleaved run(s); medians shown", s.runs))
	rep.Sections = append(rep.Sections, Section{Notes: loadNotes})

	live := func() []*sioTarget {
		var out []*sioTarget
		for _, t := range targets {
			if t.skip == "" {
				out = append(out, t)
			}
		}
		return out
	}
	phase := map[string]bool{}
	for _, p := range strings.Split(s.phases, ",") {
		phase[strings.TrimSpace(p)] = true
	}
	modes := strings.Split(s.modes, ",")

	if phase["load"] {
		for _, t := range live() {
			if err := s.startServer(ctx, env, t); err != nil {
				t.skip = err.Error()
				fmt.Fprintf(os.Stderr, "sbbench: %s skipped: %v\n", t.Name, err)
			}
		}
		for r := range s.runs {
			lt := live()
			for i := range lt {
				t := lt[(i+r)%len(lt)]
				for _, mode := range modes {
					if ctx.Err() != nil {
						return rep, ctx.Err()
					}
					m, err := s.measure(ctx, env, t, strings.TrimSpace(mode), r, goProcs, nodeProcs, per)
					if err != nil {
						fmt.Fprintf(os.Stderr, "sbbench: %s %s run %d: %v\n", t.Name, mode, r+1, err)
						raw.Skipped[fmt.Sprintf("%s-%s-r%d", t.Name, mode, r+1)] = err.Error()
						continue
					}
					raw.Measures = append(raw.Measures, m)
					fmt.Fprintf(os.Stderr, "sio run %d %-4s %-3s %9.0f /s  server CPU %6.2f µs/event  server busy %.2f  load busy %.2f  lost %d errors %d\n",
						r+1, t.Name, m.Mode, m.Rate, m.CPUPerEvUs, m.ServerBusy, m.LoadBusy, m.Lost, m.ClientErrors)
				}
			}
		}
		s.loadTable(rep, raw, targets, modes, env)
	}

	if phase["idle"] {
		for _, t := range targets {
			if t.proc != nil {
				t.proc.Stop()
				t.proc = nil
			}
		}
		hold := s.holdClient
		if hold == "auto" {
			hold = "go"
			if sioErr != nil {
				hold = "node"
			}
		}
		for _, t := range targets {
			if t.skip != "" || ctx.Err() != nil {
				continue
			}
			ir, err := s.idleOne(ctx, env, t, hold)
			if err != nil {
				fmt.Fprintf(os.Stderr, "sbbench: idle %s: %v\n", t.Name, err)
				raw.Skipped["idle-"+t.Name] = err.Error()
				continue
			}
			raw.Idle[t.Name] = ir
			fmt.Fprintf(os.Stderr, "idle %-4s conns %d KiB/conn %.2f fds/conn %.2f\n", t.Name, ir.Conns, ir.KiBPerConn, ir.FDsPerConn)
		}
		tb := &Table{Header: []string{"server", "connections", "RSS before KiB", "RSS after KiB", "KiB/connection", "fds/connection", "target ≤ 12 KiB"}}
		for _, t := range targets {
			ir, ok := raw.Idle[t.Name]
			if !ok {
				continue
			}
			verdict := ""
			if t.ours() {
				verdict = passFail(ir.KiBPerConn <= 12)
			}
			conns := strconv.Itoa(ir.Conns)
			if ir.Failed > 0 {
				conns += fmt.Sprintf(" (%d failed)", ir.Failed)
			}
			tb.AddRow(s.label(t.Name), conns, fmtK(float64(ir.RSSBeforeKiB)), fmtK(float64(ir.RSSAfterKiB)),
				fmtF(ir.KiBPerConn, 2), fmtF(ir.FDsPerConn, 2), verdict)
		}
		rep.Sections = append(rep.Sections, Section{Heading: "RSS per idle WebSocket connection",
			Notes: []string{fmt.Sprintf("%d connections (%s client, holders of ≤ %d each) to a freshly started server, idle %s; (VmRSS after − before)/N", s.idleConns, hold, s.perProc, s.idleWait)},
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

func (s *sioScenario) label(name string) string {
	switch name {
	case "go":
		if s.coalesce != 0 {
			return fmt.Sprintf("Switchboard internal/sio, ReadCoalesce %s", s.coalesce)
		}
		return "Switchboard internal/sio"
	case "gonc":
		return "Switchboard internal/sio, ReadCoalesce off"
	}
	return "node socket.io@4.8.4"
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func (s *sioScenario) loadTable(rep *Report, raw *sioRaw, targets []*sioTarget, modes []string, env *Env) {
	tb := &Table{Header: []string{"server", "mode", "events/s at server (median)", "server CPU µs per event (median)", "mean ack latency", "server busy", "load busy (max)", "lost", "client errors", "noise (max)", "runs"}}
	cpu := map[string]float64{}
	for _, t := range targets {
		for _, mode := range modes {
			mode = strings.TrimSpace(mode)
			var rate, cpe, sbusy []float64
			lbusy, noise := 0.0, 0.0
			var lost, errs int64
			n := 0
			for _, m := range raw.Measures {
				if m.Target != t.Name || m.Mode != mode {
					continue
				}
				n++
				rate, cpe, sbusy = append(rate, m.Rate), append(cpe, m.CPUPerEvUs), append(sbusy, m.ServerBusy)
				lbusy = math.Max(lbusy, m.LoadBusy)
				noise = math.Max(noise, m.Foreign)
				lost += m.Lost
				errs += m.ClientErrors
			}
			if n == 0 {
				continue
			}
			cpu[t.Name+"/"+mode] = median(cpe)
			label := mode
			if mode == "ack" {
				label = "ack (acked echo)"
			}
			// Little's law: a closed loop of inflight acks at this rate.
			lat := "–"
			if mode == "ack" && median(rate) > 0 {
				lat = fmt.Sprintf("%.2f ms", float64(s.inflight)/median(rate)*1e3)
			}
			tb.AddRow(s.label(t.Name), label, fmtK(median(rate)), fmtF(median(cpe), 2), lat, fmtF(median(sbusy), 2),
				busyCell(lbusy), strconv.FormatInt(lost, 10), strconv.FormatInt(errs, 10), noiseCell(noise), strconv.Itoa(n))
		}
	}
	sec := Section{Heading: "Events and acks: rate and server CPU", Table: tb}
	var notes []string
	for _, mode := range modes {
		mode = strings.TrimSpace(mode)
		nd, okn := cpu["node/"+mode]
		for _, t := range targets {
			g, okg := cpu[t.Name+"/"+mode]
			if !t.ours() || !okg || !okn || nd <= 0 {
				continue
			}
			r := g / nd
			notes = append(notes, fmt.Sprintf("**%s: server CPU per %s, %s / Node = %.3f** (target ≤ 0.333: %s)", mode, map[string]string{"ev": "event", "ack": "ack"}[mode], s.label(t.Name), r, passFail(r <= 1.0/3)))
		}
	}
	notes = append(notes, "load busy = the load processes' CPU over the window ÷ the CPUs they are pinned to; ⚠ over 0.9 means rates are load-bound (CPU per event stays valid)")
	sec.Notes = notes
	rep.Sections = append(rep.Sections, sec)
}

func (s *sioScenario) startServer(ctx context.Context, env *Env, t *sioTarget) error {
	addr := fmt.Sprintf("127.0.0.1:%d", t.Port)
	if !portFree(addr) {
		return fmt.Errorf("%s is in use", addr)
	}
	spec := ProcSpec{Name: "sioserver-" + t.Name, CPUs: env.ServerCPUs}
	switch t.Name {
	case "go":
		spec.Argv = env.SelfArgv("sioserver", "-addr", addr, "-read-coalesce", s.coalesce.String())
	case "gonc":
		spec.Argv = env.SelfArgv("sioserver", "-addr", addr, "-read-coalesce", "-1ns")
	default:
		spec.Argv = []string{"node", filepath.Join(env.Root, "bench", "node", "ref-server.js"), "--port", strconv.Itoa(t.Port)}
	}
	p, err := env.Start(spec)
	if err != nil {
		return err
	}
	t.proc = p
	if err := waitHTTP(ctx, t.base()+"/_stats", 15*time.Second, p); err != nil {
		p.Stop()
		t.proc = nil
		return fmt.Errorf("%w: %s", err, tailFile(p.Log, 3))
	}
	return nil
}

func sioStats(base string) (sioCounters, error) {
	var c sioCounters
	cl := &http.Client{Timeout: 15 * time.Second}
	resp, err := cl.Get(base + "/_stats")
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&c)
	return c, err
}

func (c sioCounters) count(mode string) int64 {
	if mode == "ack" {
		return c.Echo
	}
	return c.Ev
}

// cpuCount returns how many CPUs a taskset list names (all CPUs when empty).
func cpuCount(list string) int {
	if list == "" {
		return runtime.NumCPU()
	}
	n := 0
	for _, part := range strings.Split(list, ",") {
		a, b, ok := strings.Cut(part, "-")
		if !ok {
			n++
			continue
		}
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		n += y - x + 1
	}
	return max(n, 1)
}

// measure runs one load of mode against t and measures the server over a
// steady window.
func (s *sioScenario) measure(ctx context.Context, env *Env, t *sioTarget, mode string, run, goProcs, nodeProcs, per int) (SIOMeasure, error) {
	m := SIOMeasure{Target: t.Name, Mode: mode, Run: run + 1}
	before, err := sioStats(t.base())
	if err != nil {
		return m, err
	}
	startAt := time.Now().Add(2 * time.Second)
	if s.conns*(goProcs+nodeProcs) > 32 {
		startAt = time.Now().Add(5 * time.Second)
	}
	var loaders []*Proc
	defer func() {
		for _, l := range loaders {
			l.Stop()
		}
	}()
	for i := range goProcs + nodeProcs {
		spec := ProcSpec{Name: fmt.Sprintf("sioload-%s-%s-r%d-%d", t.Name, mode, run+1, i), CPUs: env.LoadCPUs, Capture: true}
		if i < goProcs {
			spec.Argv = env.SelfArgv("sioload", "-url", t.base(), "-mode", mode, "-c", strconv.Itoa(s.conns),
				"-inflight", strconv.Itoa(per), "-d", s.dur.String(), "-start-at", strconv.FormatInt(startAt.UnixMilli(), 10),
				"-size", strconv.Itoa(s.size))
		} else {
			spec.Argv = []string{"node", filepath.Join(env.Root, "bench", "node", "load.js"), "--url", t.base(), "--mode", mode,
				"--conns", strconv.Itoa(s.conns), "--inflight", strconv.Itoa(per), "--duration", fmt.Sprintf("%g", s.dur.Seconds()),
				"--start-at", strconv.FormatInt(startAt.UnixMilli(), 10), "--size", strconv.Itoa(s.size)}
		}
		p, err := env.Start(spec)
		if err != nil {
			return m, err
		}
		loaders = append(loaders, p)
	}
	loadPIDs := func() []int {
		var ps []int
		for _, l := range loaders {
			ps = append(ps, l.PID())
		}
		return ps
	}
	// Run sample: just before the load starts (loaders connected).
	if err := sleepCtx(ctx, time.Until(startAt.Add(-200*time.Millisecond))); err != nil {
		return m, err
	}
	b0, err := sioStats(t.base())
	if err != nil {
		return m, err
	}
	cpuBegin := SampleTree(t.proc.PID()).CPUTicks
	fm := StartForeign()
	// Rate window: each sample reads the server's counter, then the time
	// (the counter request may queue behind the load on a busy server).
	if err := sleepCtx(ctx, time.Until(startAt.Add(s.warm))); err != nil {
		return m, err
	}
	lm := StartCPU(loadPIDs()...)
	st0, err := sioStats(t.base())
	if err != nil {
		return m, err
	}
	t0 := time.Now()
	if err := sleepCtx(ctx, time.Until(startAt.Add(s.dur-500*time.Millisecond))); err != nil {
		return m, err
	}
	_, lbusy := lm.Stop() // before the counter request, which may be slow
	st1, err := sioStats(t.base())
	if err != nil {
		return m, err
	}
	m.WindowSecs = time.Since(t0).Seconds()
	m.Rate = float64(st1.count(mode)-st0.count(mode)) / m.WindowSecs
	m.LoadBusy = lbusy / float64(cpuCount(env.LoadCPUs))
	// Collect the loaders' results.
	for _, l := range loaders {
		wctx, cancel := context.WithTimeout(ctx, s.dur+60*time.Second)
		var res SIOLoadResult
		for line := range l.Lines {
			if strings.HasPrefix(line, "{") {
				json.Unmarshal([]byte(line), &res)
			}
		}
		l.Wait(wctx)
		cancel()
		if res.Impl == "" {
			m.ClientErrors++
			fmt.Fprintf(os.Stderr, "sbbench: %s gave no result: %s\n", l.Name, tailFile(l.Log, 3))
		}
		m.Loaders = append(m.Loaders, res)
		m.Sent += res.Sent
		m.Acked += res.Acked
		m.ClientErrors += res.Errors
	}
	// Wait until the server's count settles, then take the end sample.
	var last int64 = -1
	var end sioCounters
	for range 50 {
		end, err = sioStats(t.base())
		if err != nil {
			return m, err
		}
		if end.count(mode) == last {
			break
		}
		last = end.count(mode)
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return m, err
		}
	}
	cpuEnd := SampleTree(t.proc.PID()).CPUTicks
	m.Foreign = fm.Cores()
	// CPU per event over the whole load (start to settled), so a server
	// that falls behind is charged for all it handled.
	m.Events = end.count(mode) - b0.count(mode)
	m.ServerCPU = float64(cpuEnd-cpuBegin) / clkTck
	m.ServerBusy = m.ServerCPU / time.Since(startAt).Seconds()
	if m.Events > 0 {
		m.CPUPerEvUs = m.ServerCPU / float64(m.Events) * 1e6
	} else {
		m.CPUPerEvUs = math.NaN()
	}
	m.ServerTotal = end.count(mode) - before.count(mode)
	if mode == "ev" {
		m.Lost = m.Sent - m.ServerTotal
	} else {
		// An echo handled but whose ack arrived after its client's end
		// time is not counted by the client: only the reverse is loss.
		m.Lost = max(0, m.Acked-m.ServerTotal)
	}
	return m, nil
}

// idleOne measures RSS per idle connection on a freshly started server.
func (s *sioScenario) idleOne(ctx context.Context, env *Env, t *sioTarget, hold string) (IdleResult, error) {
	var ir IdleResult
	if err := s.startServer(ctx, env, t); err != nil {
		return ir, err
	}
	defer func() {
		t.proc.Stop()
		t.proc = nil
	}()
	if err := sleepCtx(ctx, time.Second); err != nil {
		return ir, err
	}
	pid := t.proc.PID()
	before := SampleTree(pid)
	ir.RSSBeforeKiB, ir.FDsBefore = before.RSSKiB, before.FDs
	stopHolders, err := startHolders(ctx, env, s.idleConns, s.perProc, s.idleWait, func(i, n int) ProcSpec {
		spec := ProcSpec{Name: fmt.Sprintf("siohold-%s-%d", t.Name, i), Capture: true, CPUs: env.LoadCPUs}
		maxHold := s.idleWait + 10*time.Minute
		if hold == "go" {
			spec.Argv = env.SelfArgv("siohold", "-url", t.base(), "-n", strconv.Itoa(n), "-max", maxHold.String())
		} else {
			spec.Argv = []string{"node", filepath.Join(env.Root, "bench", "node", "load.js"), "--url", t.base(), "--mode", "hold",
				"--conns", strconv.Itoa(n), "--max", fmt.Sprintf("%.0f", maxHold.Seconds())}
		}
		return spec
	}, &ir)
	defer stopHolders()
	if err != nil {
		return ir, err
	}
	after := SampleTree(pid)
	ir.RSSAfterKiB, ir.FDsAfter, ir.ThreadsAfter, ir.Processes = after.RSSKiB, after.FDs, after.Threads, after.Processes
	ir.perConn()
	return ir, nil
}
