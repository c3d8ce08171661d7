package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// RateResult is the JSON line printed by `sbbench rate`.
type RateResult struct {
	Target   string  `json:"target"`
	Rate     float64 `json:"rate"`     // offered requests/s
	Sent     int64   `json:"sent"`     // requests issued
	OK       int64   `json:"ok"`       // 2xx responses
	Errors   int64   `json:"errors"`   // non-2xx, I/O errors, reconnects
	Late     int64   `json:"late"`     // tickets never started before the deadline
	Achieved float64 `json:"achieved"` // completed OK / duration
	P50us    float64 `json:"p50_us"`
	P90us    float64 `json:"p90_us"`
	P99us    float64 `json:"p99_us"`
	P999us   float64 `json:"p999_us"`
	MaxUs    float64 `json:"max_us"`
	MeanUs   float64 `json:"mean_us"`
	Busy     float64 `json:"busy"`                    // generator CPU seconds / wall seconds during the load
	Foreign  float64 `json:"foreign_cores,omitempty"` // set by the harness
}

// cmdRate is a bounded open-loop (constant-rate) HTTP/1.1 GET generator.
// Request i is due at start + i/rate; latency is measured from that due time
// (not from when a connection became free), so a stalled server is charged
// for the queue it causes (no coordinated omission). It uses its own lean
// keep-alive client on raw TCP so the generator costs little CPU per request.
func cmdRate(args []string) error {
	fs := flag.NewFlagSet("rate", flag.ExitOnError)
	target := fs.String("url", "http://127.0.0.1:9001/", "URL to GET")
	rate := fs.Float64("rate", 1000, "offered requests per second")
	dur := fs.Duration("d", 10*time.Second, "duration of the offered load")
	conns := fs.Int("c", 64, "keep-alive connections")
	grace := fs.Duration("grace", 5*time.Second, "extra time for in-flight requests after the last is due")
	fs.Parse(args)
	res, err := runRate(context.Background(), *target, *rate, *dur, *conns, *grace)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func runRate(ctx context.Context, target string, rate float64, dur time.Duration, conns int, grace time.Duration) (RateResult, error) {
	u, err := url.Parse(target)
	if err != nil {
		return RateResult{}, err
	}
	if rate <= 0 || conns <= 0 {
		return RateResult{}, errors.New("rate and c must be > 0")
	}
	path := u.RequestURI()
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: sbbench\r\n\r\n")
	total := int64(rate * dur.Seconds())
	if total < 1 {
		total = 1
	}
	interval := float64(time.Second) / rate
	start := time.Now().Add(50 * time.Millisecond)
	deadline := start.Add(dur + grace)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	// Tickets carry due times; the channel bounds the backlog at `total`.
	tickets := make(chan time.Time, min(total, 1<<20))
	var sent, okN, errN atomic.Int64
	hists := make([]*Hist, conns)
	var wg sync.WaitGroup
	for i := range conns {
		h := &Hist{}
		hists[i] = h
		wg.Go(func() { rateWorker(ctx, u.Host, req, tickets, h, &sent, &okN, &errN) })
	}
	// Dispatcher: release every ticket whose due time has passed, ~every 200 µs.
	var issued int64
	cpu0, _ := cpuTicks(os.Getpid())
	tick := time.NewTicker(200 * time.Microsecond)
dispatch:
	for issued < total {
		now := time.Now()
		due := int64(float64(now.Sub(start)) / interval)
		for issued < total && issued <= due {
			t := start.Add(time.Duration(float64(issued) * interval))
			select {
			case tickets <- t:
				issued++
			case <-ctx.Done():
				break dispatch
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			break dispatch
		}
	}
	tick.Stop()
	close(tickets)
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, _ := cpuTicks(os.Getpid())
	if elapsed > dur+grace {
		elapsed = dur + grace
	}
	var all Hist
	for _, h := range hists {
		all.Merge(h)
	}
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	late := total - sent.Load()
	res := RateResult{
		Target: target, Rate: rate, Sent: sent.Load(), OK: okN.Load(), Errors: errN.Load(), Late: late,
		Achieved: float64(okN.Load()) / max(dur.Seconds(), elapsed.Seconds()),
		P50us:    us(all.Quantile(0.5)), P90us: us(all.Quantile(0.9)), P99us: us(all.Quantile(0.99)),
		P999us: us(all.Quantile(0.999)), MaxUs: us(all.Quantile(1)), MeanUs: us(all.Mean()),
		Busy: float64(cpu1-cpu0) / clkTck / elapsed.Seconds(),
	}
	return res, nil
}

func rateWorker(ctx context.Context, host string, req []byte, tickets <-chan time.Time, h *Hist, sent, okN, errN *atomic.Int64) {
	var c *httpConn
	defer func() {
		if c != nil {
			c.close()
		}
	}()
	for due := range tickets {
		if ctx.Err() != nil {
			continue // drain: counted as late
		}
		if c == nil {
			var err error
			c, err = dialHTTP(ctx, host)
			if err != nil {
				errN.Add(1)
				sent.Add(1)
				continue
			}
		}
		if dl, ok := ctx.Deadline(); ok {
			c.nc.SetDeadline(dl)
		}
		sent.Add(1)
		status, err := c.roundTrip(req)
		if err != nil {
			errN.Add(1)
			c.close()
			c = nil
			continue
		}
		h.Record(time.Since(due))
		if status >= 200 && status < 300 {
			okN.Add(1)
		} else {
			errN.Add(1)
		}
	}
}

// httpConn is a minimal HTTP/1.1 keep-alive client connection for GETs.
type httpConn struct {
	nc net.Conn
	br *bufio.Reader
}

func dialHTTP(ctx context.Context, host string) (*httpConn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	return &httpConn{nc: nc, br: bufio.NewReaderSize(nc, 16<<10)}, nil
}

func (c *httpConn) close() { c.nc.Close() }

var errBadResponse = errors.New("bad http response")

// roundTrip writes req and reads one response, returning its status. The
// body (Content-Length or chunked) is read and discarded. A response with
// "Connection: close" is treated as an error so the caller redials.
func (c *httpConn) roundTrip(req []byte) (int, error) {
	if _, err := c.nc.Write(req); err != nil {
		return 0, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, errBadResponse
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, errBadResponse
	}
	clen := int64(-1)
	chunked, closeConn := false, false
	for n := 0; ; n++ {
		if n > 100 {
			return 0, errBadResponse
		}
		l, err := c.br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		l = bytes.TrimRight(l, "\r\n")
		if len(l) == 0 {
			break
		}
		k, v, ok := bytes.Cut(l, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			clen, err = strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return 0, errBadResponse
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.Contains(bytes.ToLower(v), []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			closeConn = bytes.EqualFold(v, []byte("close"))
		}
	}
	switch {
	case chunked:
		if err := c.discardChunked(); err != nil {
			return 0, err
		}
	case clen >= 0:
		if _, err := c.br.Discard(int(clen)); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("%w: no length", errBadResponse)
	}
	if closeConn {
		return status, errors.New("server closed keep-alive")
	}
	return status, nil
}

func (c *httpConn) discardChunked() error {
	for range 1 << 16 {
		l, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		l = bytes.TrimRight(l, "\r\n")
		if i := bytes.IndexByte(l, ';'); i >= 0 {
			l = l[:i]
		}
		n, err := strconv.ParseInt(string(l), 16, 64)
		if err != nil {
			return errBadResponse
		}
		if n == 0 {
			for { // trailers
				t, err := c.br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(t, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := c.br.Discard(int(n) + 2); err != nil {
			return err
		}
	}
	return errBadResponse
}
