package sio

import (
	"context"
	"sync"
	"time"
)

// ackFunc receives an acknowledgement or the error that ended the wait.
type ackFunc func(m Message, err error)

// ackTable holds the acks a socket waits for. The zero value is ready; the
// map is created on first use so idle sockets pay nothing for it.
type ackTable struct {
	mu      sync.Mutex
	next    int64
	pending map[int64]ackFunc // guarded by mu
	closed  bool              // guarded by mu
}

// add registers fn and returns its packet id.
func (t *ackTable) add(fn ackFunc, limit int) (int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
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
	t.mu.Unlock()
	for _, fn := range p {
		fn(Message{}, err)
	}
}

// failAll fails every waiter with err but keeps accepting new ones (a
// client socket between connections).
func (t *ackTable) failAll(err error) {
	t.mu.Lock()
	p := t.pending
	t.pending = nil
	t.mu.Unlock()
	for _, fn := range p {
		fn(Message{}, err)
	}
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

// callbackAck registers fn with a timer and sends. Unless it returns an
// error, fn runs exactly once, with the ack or ErrAckTimeout/ErrClosed, on
// the reader goroutine, the timer's, or the one closing the socket.
func callbackAck(t *ackTable, limit int, timeout time.Duration, fn func(Message, error), send func(id int64) error) error {
	var (
		once sync.Once
		tm   *time.Timer
		mu   sync.Mutex
	)
	call := func(m Message, err error) {
		once.Do(func() {
			mu.Lock()
			if tm != nil {
				tm.Stop()
			}
			mu.Unlock()
			fn(m, err)
		})
	}
	id, err := t.add(call, limit)
	if err != nil {
		return err
	}
	mu.Lock()
	tm = time.AfterFunc(timeout, func() {
		if t.take(id) != nil {
			call(Message{}, ErrAckTimeout)
		}
	})
	mu.Unlock()
	if err := send(id); err != nil {
		if t.take(id) != nil {
			mu.Lock()
			tm.Stop()
			mu.Unlock()
			return err
		}
		// Already failed by close (fn ran or runs with that error).
	}
	return nil
}
