package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/switchboard-lb/switchboard/internal/sio"
	"github.com/switchboard-lb/switchboard/internal/sio/eio"
)

// msgUsersConfig is one user-load process of the messaging scenario: the Go
// twin of bench/node/msg-users.js (same flags, same "ready N" line, same
// JSON result).
type msgUsersConfig struct {
	Ports        []string
	Host         string
	Users        int // users in the whole run (dm targets are drawn from 0..Users-1)
	From, Count  int // this process's users: From .. From+Count-1
	Kind         string
	Rate         float64 // messages/s sent by this process
	Duration     time.Duration
	StartAt      int64 // unix ms; 0: now (unless StartOnStdin)
	StartOnStdin bool
	Settle       time.Duration
	SettleMax    time.Duration
	Size         int // padding appended to every text
	Prefix       string
	// Local draws every dm's recipient from the sender's own backend
	// (users i and j share one when i ≡ j mod len(Ports)): the floor sides.
	Local bool
}

// pickRecipient returns a uniformly random user other than i: any of the
// run's users, or with local one on i's own backend (of ports backends).
func pickRecipient(i, users, ports int, local bool, intN func(int) int) int {
	if !local || ports <= 1 {
		j := intN(users - 1)
		if j >= i {
			j++ // anyone but the sender
		}
		return j
	}
	r := i % ports
	n := (users - r + ports - 1) / ports // users r, r+ports, ... below users
	k := intN(n - 1)
	if k >= i/ports {
		k++ // anyone but the sender
	}
	return r + k*ports
}

// msgUser is one logged-in user.
type msgUser struct {
	name   string
	i      int
	client *sio.Client
	sock   *sio.ClientSocket
}

// monoBase anchors CLOCK_MONOTONIC (the clock msg-users.js stamps with
// process.hrtime) to Go's monotonic clock, which is CLOCK_MONOTONIC too, so
// monoNow costs no system call and stamps compare across processes.
var monoBase = func() struct {
	ns int64
	t  time.Time
} {
	var ts syscall.Timespec
	t := time.Now()
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 1 /* CLOCK_MONOTONIC */, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		// Fall back to the wall clock: stamps still compare within
		// processes of this binary.
		return struct {
			ns int64
			t  time.Time
		}{t.UnixNano(), t}
	}
	return struct {
		ns int64
		t  time.Time
	}{ts.Nano(), t}
}()

// monoNow returns CLOCK_MONOTONIC in nanoseconds.
func monoNow() int64 { return monoBase.ns + int64(time.Since(monoBase.t)) }

// msgHist is msg-users.js's histogram: 10 µs buckets below 10 ms, 100 µs up
// to 100 ms, 1 ms above; keyed by the bucket's lower bound in µs.
type msgHist struct {
	mu    sync.Mutex
	fine  [1900]int64     // < 100 ms; guarded by mu
	large map[int64]int64 // ≥ 100 ms; guarded by mu
}

func (h *msgHist) record(us int64) {
	us = max(us, 0)
	h.mu.Lock()
	switch {
	case us < 10000:
		h.fine[us/10]++
	case us < 100000:
		h.fine[1000+(us-10000)/100]++
	default:
		if h.large == nil {
			h.large = map[int64]int64{}
		}
		h.large[us/1000*1000]++
	}
	h.mu.Unlock()
}

// snapshot returns the histogram as the JSON map the harness merges.
func (h *msgHist) snapshot() map[string]int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int64{}
	for i, n := range h.fine {
		if n == 0 {
			continue
		}
		k := int64(i) * 10
		if i >= 1000 {
			k = 10000 + int64(i-1000)*100
		}
		out[strconv.FormatInt(k, 10)] = n
	}
	for k, n := range h.large {
		out[strconv.FormatInt(k, 10)] = n
	}
	return out
}

// stampOf returns the send time carried in a "msg" event's text
// ("name|seq|monoNs[|pad]"), scanning the raw JSON without decoding it all.
func stampOf(arg []byte) (int64, bool) {
	i := bytes.Index(arg, []byte(`"text":"`))
	if i < 0 {
		var m struct {
			Text string `json:"text"`
		}
		if json.Unmarshal(arg, &m) != nil {
			return 0, false
		}
		arg = []byte(`"text":"` + m.Text + `"`)
		i = 0
	}
	s := arg[i+len(`"text":"`):]
	if e := bytes.IndexByte(s, '"'); e >= 0 {
		s = s[:e]
	}
	parts := bytes.SplitN(s, []byte("|"), 4)
	if len(parts) < 3 {
		return 0, false
	}
	ns, err := strconv.ParseInt(string(parts[2]), 10, 64)
	return ns, err == nil
}

// cmdMsgUsers is `sbbench msgusers`: the messaging scenario's user load on
// our Go Socket.IO client; flags as bench/node/msg-users.js.
func cmdMsgUsers(args []string) error {
	fs := flag.NewFlagSet("msgusers", flag.ExitOnError)
	ports := fs.String("ports", "8301,8302,8303", "backend ports (user i on port i mod len)")
	host := fs.String("host", "127.0.0.1", "backend host")
	users := fs.Int("users", 300, "users in the whole run")
	from := fs.Int("from", 0, "first user of this process")
	count := fs.Int("count", 100, "users in this process")
	kind := fs.String("kind", "dm", "dm | pub")
	rate := fs.Float64("rate", 1000, "messages/s sent by this process")
	dur := fs.Float64("duration", 10, "sending time, seconds")
	startAt := fs.Int64("start-at", 0, "unix ms at which to start sending")
	onStdin := fs.Int("start-on-stdin", 0, "1: start when a line arrives on stdin")
	settle := fs.Float64("settle", 1, "after the last send, stop once nothing arrived for this many seconds")
	settleMax := fs.Float64("settle-max", 30, "bound on the settle wait, seconds")
	size := fs.Int("size", 0, "padding bytes appended to every text")
	maxSecs := fs.Float64("max", 900, "hard bound on the whole process, seconds")
	prefix := fs.String("prefix", "u", "user name prefix")
	local := fs.Int("local", 0, "1: every dm to a user on the sender's own backend (the floor sides)")
	fs.Parse(args)
	if err := sioReady(); err != nil {
		return err
	}
	cfg := msgUsersConfig{Ports: strings.Split(*ports, ","), Host: *host, Users: *users, From: *from, Count: *count,
		Kind: *kind, Rate: *rate, Duration: secsDur(*dur), StartAt: *startAt, StartOnStdin: *onStdin != 0,
		Settle: secsDur(*settle), SettleMax: secsDur(*settleMax), Size: *size, Prefix: *prefix, Local: *local != 0}
	ctx, cancel := context.WithTimeout(context.Background(), secsDur(*maxSecs))
	defer cancel()
	_, err := runMsgUsers(ctx, cfg, os.Stdin, os.Stdout)
	return err
}

func secsDur(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// runMsgUsers logs cfg's users in, prints "ready N" on out, waits for the
// start (a line on stdin, or StartAt), sends paced messages for Duration,
// waits for the stragglers, prints the result as one JSON line on out and
// returns it. The clients are closed after the result is out (the harness
// ends its CPU window at that line, before the disconnects).
func runMsgUsers(ctx context.Context, cfg msgUsersConfig, stdin io.Reader, out io.Writer) (MsgUsersResult, error) {
	var res MsgUsersResult
	if cfg.Kind != "dm" && cfg.Kind != "pub" {
		return res, fmt.Errorf("unknown kind %q", cfg.Kind)
	}
	if len(cfg.Ports) == 0 || cfg.Count <= 0 || cfg.Users < 2 {
		return res, errors.New("need ports, count > 0 and users ≥ 2")
	}
	if cfg.Local && cfg.Users < 2*len(cfg.Ports) {
		return res, errors.New("-local needs at least two users per backend")
	}
	if strings.ContainsAny(cfg.Prefix, "\"\\|") {
		return res, errors.New("prefix must not contain quotes, backslashes or |")
	}
	var (
		hist       msgHist
		received   atomic.Int64
		errs       atomic.Int64
		sendErrs   atomic.Int64
		pending    atomic.Int64
		closing    atomic.Bool
		mu         sync.Mutex
		list       = make([]*msgUser, 0, cfg.Count)
		firstError sync.Once
	)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	defer func() {
		closing.Store(true)
		var wg sync.WaitGroup
		for _, u := range list {
			wg.Go(func() { u.client.Close() })
		}
		wg.Wait()
	}()
	onMsg := func(m sio.Message, _ sio.Ack) {
		if len(m.Args) == 0 {
			return
		}
		t, ok := stampOf(m.Args[0])
		if !ok {
			return
		}
		received.Add(1)
		hist.record((monoNow() - t) / 1000)
	}
	// Log in concurrently, at most 32 handshakes at a time.
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for k := range cfg.Count {
		i := cfg.From + k
		name := cfg.Prefix + strconv.Itoa(i)
		port := strings.TrimSpace(cfg.Ports[i%len(cfg.Ports)])
		c := sio.NewClient("http://"+cfg.Host+":"+port, sio.ClientConfig{DialConfig: eio.DialConfig{Path: "/socket.io/"},
			AckTimeout: 10 * time.Second, MaxPendingAcks: 1 << 16, Logger: logger})
		s := c.Socket("/", nil)
		s.On("msg", onMsg)
		s.OnDisconnect(func(reason string, _ bool) {
			if reason != sio.ReasonIOClientDisconnect && !closing.Load() {
				errs.Add(1)
				fmt.Fprintf(os.Stderr, "%s disconnected: %s\n", name, reason)
			}
		})
		u := &msgUser{name: name, i: i, client: c, sock: s}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			err := c.Connect(lctx)
			var ack sio.Message
			if err == nil {
				q, _ := json.Marshal(name)
				ack, err = s.EmitWithAck(lctx, "login", sio.Args(q))
			}
			if err == nil && (len(ack.Args) == 0 || !ackOK(ack.Args[0])) {
				err = fmt.Errorf("refused: %s", argsText(ack))
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs.Add(1)
				firstError.Do(func() { fmt.Fprintf(os.Stderr, "login %s: %v\n", name, err) })
				c.Close()
				return
			}
			list = append(list, u)
		})
	}
	wg.Wait()
	fmt.Fprintf(out, "ready %d\n", len(list))
	if len(list) == 0 {
		return res, errors.New("no user logged in")
	}
	// Round robin over the users in index order, as msg-users.js does.
	slices.SortFunc(list, func(a, b *msgUser) int { return a.i - b.i })
	if cfg.StartOnStdin {
		line := make(chan struct{})
		go func() {
			bufio.NewReader(stdin).ReadString('\n')
			close(line)
		}()
		select {
		case <-line:
		case <-ctx.Done():
			return res, ctx.Err()
		}
	} else if cfg.StartAt > 0 {
		if err := sleepCtx(ctx, time.Until(time.UnixMilli(cfg.StartAt))); err != nil {
			return res, err
		}
	}

	cpu0, _ := cpuTicks(os.Getpid())
	t0 := time.Now()
	total := int64(math.Round(cfg.Rate * cfg.Duration.Seconds()))
	var sent, seq, late int64
	pad := ""
	if cfg.Size > 0 {
		pad = "|" + strings.Repeat("x", cfg.Size)
	}
	event := cfg.Kind
	ackFn := func(m sio.Message, err error) {
		if err != nil || len(m.Args) == 0 || !ackOK(m.Args[0]) {
			sendErrs.Add(1)
		}
		pending.Add(-1)
	}
	buf := make([]byte, 0, 128+len(pad))
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for sent < total {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return res, ctx.Err()
		}
		elapsed := time.Since(t0).Seconds()
		due := min(total, int64(math.Floor(elapsed*cfg.Rate)))
		// Message k (0-based) is due at t0 + (k+1)/rate; the oldest unsent
		// one due more than 50 ms ago means the sender is behind the pace.
		if sent < due && elapsed-float64(sent+1)/cfg.Rate > 0.05 {
			late++
		}
		for ; sent < due; sent++ {
			u := list[seq%int64(len(list))]
			seq++
			buf = buf[:0]
			buf = append(buf, '{')
			if event == "dm" {
				j := pickRecipient(u.i, cfg.Users, len(cfg.Ports), cfg.Local, rand.IntN)
				buf = append(buf, `"to":"`...)
				buf = append(buf, cfg.Prefix...)
				buf = strconv.AppendInt(buf, int64(j), 10)
				buf = append(buf, `",`...)
			}
			buf = append(buf, `"text":"`...)
			buf = append(buf, u.name...)
			buf = append(buf, '|')
			buf = strconv.AppendInt(buf, seq, 10)
			buf = append(buf, '|')
			buf = strconv.AppendInt(buf, monoNow(), 10)
			buf = append(buf, pad...)
			buf = append(buf, `"}`...)
			pending.Add(1)
			arg := append(json.RawMessage(nil), buf...)
			if err := u.sock.EmitWithAckFunc(event, sio.Args(arg), 10*time.Second, ackFn); err != nil {
				pending.Add(-1)
				sendErrs.Add(1)
			}
		}
	}
	// Settle: wait until nothing has arrived for Settle (at most SettleMax)
	// and every ack is in, so a late message counts as late, not as lost.
	settleEnd := time.Now().Add(cfg.SettleMax)
	last := int64(-1)
	for time.Now().Before(settleEnd) {
		if err := sleepCtx(ctx, cfg.Settle); err != nil {
			break
		}
		n := received.Load()
		if n == last && pending.Load() <= 0 {
			break
		}
		last = n
	}
	secs := time.Since(t0).Seconds()
	cpu1, _ := cpuTicks(os.Getpid())
	res = MsgUsersResult{Sent: sent, Received: received.Load(), Errors: errs.Load(), SendErrors: sendErrs.Load() + max(0, pending.Load()),
		LateTicks: late, Secs: secs, Busy: float64(cpu1-cpu0) / clkTck / secs, Hist: hist.snapshot()}
	return res, json.NewEncoder(out).Encode(res)
}

// ackOK reports whether an ack argument is an object with "ok": true.
func ackOK(a json.RawMessage) bool {
	var v struct {
		OK bool `json:"ok"`
	}
	if bytes.Contains(a, []byte(`"ok":true`)) {
		return true
	}
	return json.Unmarshal(a, &v) == nil && v.OK
}

func argsText(m sio.Message) string {
	var b strings.Builder
	for i, a := range m.Args {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.Write(a)
	}
	return b.String()
}
