package sio

import (
	"context"
	"log/slog"
	"runtime/debug"
	"slices"
	"sort"
	"sync"
	"time"
)

// ackFunc receives an acknowledgement or the error that ended the wait.
type ackFunc func(m Message, err error)

// ackTable holds the acks a socket waits for. The zero value is ready; the
// map is created on first use so idle sockets pay nothing for it.
//
// Callback acks (callbackAck) have deadlines but no timer each: their
// deadlines wait in order in dl, and one timer per table, armed for the
// earliest, fails the expired ones (sweep). Whoever removes an entry from
// pending (resolve, sweep, close) calls its func, so it runs once. The
// sweep and close recover a panicking func (callAck): they run on the
// timer's goroutine and on the one ending the session.
type ackTable struct {
	mu      sync.Mutex
	next    int64
	pending map[int64]ackFunc // guarded by mu
	closed  bool              // guarded by mu
	dl      *ackDeadlines     // guarded by mu; nil until the first callback ack
}

// ackDeadlines is the callback acks' deadlines, ascending.
type ackDeadlines struct {
	q       []ackDeadline // q[head:] waits; entries whose ack came are skipped lazily
	head    int
	timer   *time.Timer  // runs sweep
	timerAt time.Time    // when timer is due; zero when it is not armed
	log     *slog.Logger // for panics of the callback acks (callAck)
}

type ackDeadline struct {
	id int64
	at time.Time
}

// add registers fn and returns its packet id.
func (t *ackTable) add(fn ackFunc, limit int) (int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.addLocked(fn, limit)
}

// addLocked is add with t.mu held.
func (t *ackTable) addLocked(fn ackFunc, limit int) (int64, error) {
	if t.closed {
		return 0, ErrClosed
	}
	if len(t.pending) >= limit {
		return 0, ErrTooManyAcks
	}
	if t.pending == nil {
		t.pending = make(map[int64]ackFunc)
	}
	id := t.next
	t.next++
	if t.next > 1<<53-1 {
		t.next = 0
	}
	t.pending[id] = fn
	return id, nil
}

// take removes and returns the waiter for id (nil when none: late or unknown acks are dropped).
func (t *ackTable) take(id int64) ackFunc {
	t.mu.Lock()
	defer t.mu.Unlock()
	fn := t.pending[id]
	if fn != nil {
		delete(t.pending, id)
	}
	return fn
}

// resolve delivers m to the waiter for id.
func (t *ackTable) resolve(id int64, m Message) {
	if fn := t.take(id); fn != nil {
		fn(m, nil)
	}
}

// close fails every waiter with err and refuses new ones until reopen.
func (t *ackTable) close(err error) {
	t.mu.Lock()
	p := t.pending
	t.pending, t.closed = nil, true
	log := t.dropDeadlinesLocked()
	t.mu.Unlock()
	for _, fn := range p {
		callAck(log, fn, err)
	}
}

// failAll fails every waiter with err but keeps accepting new ones (a
// client socket between connections).
func (t *ackTable) failAll(err error) {
	t.mu.Lock()
	p := t.pending
	t.pending = nil
	log := t.dropDeadlinesLocked()
	t.mu.Unlock()
	for _, fn := range p {
		callAck(log, fn, err)
	}
}

// callAck fails fn with err, recovering a panic: callback acks are user
// code, run here on a timer's goroutine or the one ending a session, where
// a panic would end the process. It is logged to log; log is nil only when
// no callback ack was registered (waitAck's funcs do not panic).
func callAck(log *slog.Logger, fn ackFunc, err error) {
	defer func() {
		if r := recover(); r != nil {
			if log == nil {
				panic(r)
			}
			log.Error("ack callback panic", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	fn(Message{}, err)
}

// len returns the number of pending acks.
func (t *ackTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pending)
}

type ackResult struct {
	m   Message
	err error
}

// waitAck registers a waiter, calls send with its id and waits for the
// ack, ctx, the default timeout (when ctx has no deadline) or done.
func waitAck(ctx context.Context, t *ackTable, limit int, def time.Duration, done <-chan struct{}, send func(id int64) error) (Message, error) {
	if err := ctx.Err(); err != nil {
		// Done before the call: nothing is sent (an answer could otherwise
		// arrive first and win the select below).
		if err == context.DeadlineExceeded {
			err = ErrAckTimeout
		}
		return Message{}, err
	}
	ch := make(chan ackResult, 1)
	id, err := t.add(func(m Message, err error) { ch <- ackResult{m, err} }, limit)
	if err != nil {
		return Message{}, err
	}
	if err := send(id); err != nil {
		t.take(id)
		return Message{}, err
	}
	var timeout <-chan time.Time
	if _, ok := ctx.Deadline(); !ok {
		tm := time.NewTimer(def)
		defer tm.Stop()
		timeout = tm.C
	}
	select {
	case r := <-ch:
		return r.m, r.err
	case <-ctx.Done():
		err = ctx.Err()
		if err == context.DeadlineExceeded {
			err = ErrAckTimeout
		}
	case <-timeout:
		err = ErrAckTimeout
	case <-done:
		err = ErrClosed
	}
	if t.take(id) == nil { // resolved meanwhile: prefer the answer
		r := <-ch
		return r.m, r.err
	}
	return Message{}, err
}

// callbackAck registers fn with a deadline and sends. Unless it returns an
// error, fn runs exactly once, with the ack or ErrAckTimeout/ErrClosed, on
// the reader goroutine, the table's timer's, or the one closing the socket;
// a panic in the latter two is logged to log. No timer is made per call:
// the table's one timer sweeps expired deadlines.
func callbackAck(t *ackTable, log *slog.Logger, limit int, timeout time.Duration, fn func(Message, error), send func(id int64) error) error {
	id, err := t.addTimed(fn, log, limit, timeout)
	if err != nil {
		return err
	}
	if err := send(id); err != nil {
		if t.take(id) != nil {
			return err
		}
		// Already taken by close or the sweep (fn ran or runs with that error).
	}
	return nil
}

// addTimed is add with a deadline timeout from now.
func (t *ackTable) addTimed(fn ackFunc, log *slog.Logger, limit int, timeout time.Duration) (int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	id, err := t.addLocked(fn, limit)
	if err != nil {
		return 0, err
	}
	if t.dl == nil {
		t.dl = &ackDeadlines{log: log}
	}
	d := t.dl
	now := time.Now()
	e := ackDeadline{id: id, at: now.Add(timeout)}
	if n := len(d.q); n == d.head || !e.at.Before(d.q[n-1].at) {
		d.q = append(d.q, e)
	} else {
		// A shorter timeout than an earlier call's: keep q sorted.
		k := d.head + sort.Search(n-d.head, func(k int) bool { return e.at.Before(d.q[d.head+k].at) })
		d.q = slices.Insert(d.q, k, e)
	}
	if waiting := len(d.q) - d.head; waiting > 64 && waiting > 2*len(t.pending) {
		t.compactLocked()
	}
	switch {
	case d.timer == nil:
		d.timer = time.AfterFunc(timeout, t.sweep)
		d.timerAt = e.at
	case d.timerAt.IsZero() || e.at.Before(d.timerAt):
		d.timer.Reset(e.at.Sub(now))
		d.timerAt = e.at
	}
	return id, nil
}

// compactLocked drops the deadlines of acks that came, so q stays
// proportional to what is pending.
func (t *ackTable) compactLocked() {
	d := t.dl
	q := d.q[:0]
	for _, e := range d.q[d.head:] {
		if _, ok := t.pending[e.id]; ok {
			q = append(q, e)
		}
	}
	clear(d.q[len(q):])
	d.q, d.head = q, 0
}

// sweep runs on the table's timer: it fails the expired callback acks with
// ErrAckTimeout and re-arms the timer for the next deadline.
func (t *ackTable) sweep() {
	var expired []ackFunc
	t.mu.Lock()
	d := t.dl
	if d == nil {
		t.mu.Unlock()
		return
	}
	log := d.log
	now := time.Now()
	for d.head < len(d.q) {
		e := d.q[d.head]
		fn, ok := t.pending[e.id]
		if ok && e.at.After(now) {
			break
		}
		d.head++
		if ok {
			delete(t.pending, e.id)
			expired = append(expired, fn)
		}
	}
	if d.head == len(d.q) {
		d.q, d.head = d.q[:0], 0
		d.timerAt = time.Time{}
	} else {
		d.timerAt = d.q[d.head].at
		d.timer.Reset(d.timerAt.Sub(now))
	}
	t.mu.Unlock()
	for _, fn := range expired {
		callAck(log, fn, ErrAckTimeout)
	}
}

// dropDeadlinesLocked forgets every deadline (their acks were failed) and
// returns the callback acks' logger (nil when there were none).
func (t *ackTable) dropDeadlinesLocked() *slog.Logger {
	d := t.dl
	if d == nil {
		return nil
	}
	if d.timer != nil {
		d.timer.Stop()
	}
	t.dl = nil
	return d.log
}
