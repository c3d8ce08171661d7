package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// WrkResult is one wrk run.
type WrkResult struct {
	ReqPerSec float64 `json:"req_per_sec"`
	P99us     float64 `json:"p99_us"`
	Non2xx    int64   `json:"non_2xx"`
	SockErrs  int64   `json:"socket_errors"`
	Busy      float64 `json:"load_busy"`     // wrk CPU seconds / wall seconds
	Foreign   float64 `json:"foreign_cores"` // CPUs kept busy by other processes meanwhile
	TargetCPU float64 `json:"target_cpu_s"`  // CPU seconds of the target's process tree meanwhile (set by the harness)
}

// parseWrk reads wrk's text output (run with --latency).
func parseWrk(out string) (WrkResult, error) {
	r := WrkResult{ReqPerSec: math.NaN(), P99us: math.NaN()}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch {
		case f[0] == "Requests/sec:" && len(f) >= 2:
			r.ReqPerSec, _ = strconv.ParseFloat(f[1], 64)
		case f[0] == "99%" && len(f) >= 2:
			if d, err := parseWrkDuration(f[1]); err == nil {
				r.P99us = float64(d) / 1e3
			}
		case strings.HasPrefix(sc.Text(), "  Non-2xx or 3xx responses:") && len(f) >= 5:
			r.Non2xx, _ = strconv.ParseInt(f[4], 10, 64)
		case f[0] == "Socket" && len(f) >= 10:
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for _, i := range []int{3, 5, 7, 9} {
				n, _ := strconv.ParseInt(strings.TrimSuffix(f[i], ","), 10, 64)
				r.SockErrs += n
			}
		}
	}
	if math.IsNaN(r.ReqPerSec) {
		return r, fmt.Errorf("no Requests/sec in wrk output")
	}
	return r, nil
}

// parseWrkDuration parses wrk's "1.23ms", "456.00us", "2.00s", "1.5m".
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suf string
		mul float64
	}{{"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}}
	for _, u := range units {
		if strings.HasSuffix(s, u.suf) {
			v, err := strconv.ParseFloat(strings.TrimSuffix(s, u.suf), 64)
			if err != nil {
				return 0, err
			}
			return time.Duration(v * u.mul), nil
		}
	}
	return 0, fmt.Errorf("bad wrk duration %q", s)
}

// runWrk runs `wrk -t T -c C -d D --latency url` pinned to env.LoadCPUs.
func runWrk(ctx context.Context, env *Env, name, url string, threads, conns int, d time.Duration) (WrkResult, error) {
	spec := ProcSpec{
		Name: name, CPUs: env.LoadCPUs, Capture: true,
		Argv: []string{"wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
			"-d", fmt.Sprintf("%ds", int(math.Max(1, d.Seconds()))), "--timeout", "5s", "--latency", url},
	}
	p, err := env.Start(spec)
	if err != nil {
		return WrkResult{}, err
	}
	var sb strings.Builder
	fm := StartForeign()
	t0 := time.Now()
	wctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	for {
		select {
		case l, ok := <-p.Lines:
			if ok {
				sb.WriteString(l)
				sb.WriteByte('\n')
				continue
			}
		case <-wctx.Done():
			p.Stop()
			return WrkResult{}, fmt.Errorf("wrk %s: %w", url, wctx.Err())
		}
		break
	}
	p.Wait(wctx)
	wall := time.Since(t0).Seconds()
	r, err := parseWrk(sb.String())
	if err != nil {
		return r, fmt.Errorf("wrk %s: %w (see %s)", url, err, p.Log)
	}
	if c := p.ExitCPU(); c >= 0 && wall > 0 {
		r.Busy = c / wall
	}
	r.Foreign = fm.Cores()
	return r, nil
}

// runJSONChild runs a helper mode that prints one JSON result line on
// stdout, decodes it into out, and returns the CPUs other processes kept
// busy meanwhile (noise).
func runJSONChild(ctx context.Context, env *Env, spec ProcSpec, bound time.Duration, out any) (foreign float64, err error) {
	spec.Capture = true
	fm := StartForeign()
	p, err := env.Start(spec)
	if err != nil {
		return 0, err
	}
	wctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	var last string
	for {
		select {
		case l, ok := <-p.Lines:
			if ok {
				if strings.HasPrefix(l, "{") {
					last = l
				}
				continue
			}
		case <-wctx.Done():
			p.Stop()
			return 0, fmt.Errorf("%s: %w (see %s)", spec.Name, wctx.Err(), p.Log)
		}
		break
	}
	if err := p.Wait(wctx); err != nil {
		return 0, fmt.Errorf("%s: %w (see %s)", spec.Name, err, p.Log)
	}
	if last == "" {
		return 0, fmt.Errorf("%s printed no result (see %s)", spec.Name, p.Log)
	}
	if err := json.Unmarshal([]byte(last), out); err != nil {
		return 0, fmt.Errorf("%s: %w", spec.Name, err)
	}
	return fm.Cores(), nil
}
