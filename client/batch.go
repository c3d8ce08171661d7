package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio"
	"github.com/switchboard-lb/switchboard/internal/sio/codec"
)

// Batching of SendMessageAsync (the hub's side: docs/PROTOCOL.md, batched
// `message`). Like Nagle's algorithm without a timer: while fewer than
// batchWindow packets await their answer a message is written at once;
// otherwise it queues, and the answer that frees the window writes
// everything queued as one `message` whose argument is an array. A quiet
// connection therefore adds no latency, and a busy one sends one packet
// (and gets one ack) per round trip instead of one per message.
const (
	// batchWindow is how many `message` packets may await their answer
	// before further messages wait to be coalesced.
	batchWindow = 1
	// maxBatch bounds the messages of one batch (the hub's limit).
	maxBatch = 1000
	// maxBatchBytes bounds the encoded size of one batch, well under the
	// hub's payload limit (1 MB by default); a message larger than this
	// goes alone.
	maxBatchBytes = 256 << 10
)

// asyncItem is one SendMessageAsync message: its encoded event and the
// callback owed exactly one answer.
type asyncItem struct {
	m        sio.Message
	done     func(SendResult, error)
	deadline time.Time // the call's time plus the ack timeout (zero: none)
}

// batchState is what a batcher knows about the hub's support of arrays.
type batchState uint8

const (
	batchProbe batchState = iota // unknown: the first array is a probe
	batchOn                      // the hub answered an array
	batchOff                     // disabled, or the hub refused an array
)

// batcher writes one connection's SendMessageAsync messages in call order,
// coalescing them into batches while earlier ones await their answer.
//
// Exactly one goroutine writes at a time (sending), taking packets from
// the head of queue, so the wire order is the queue order, which is the
// order of the calls. An answer (on the reader goroutine) frees a window
// slot and, when nobody is writing, writes what has queued meanwhile.
// While the first array on a connection awaits its answer (probing)
// nothing else is written: an older hub refuses it with BAD_REQUEST and
// its messages go back to the head of the queue, to be sent one by one,
// still in order.
type batcher struct {
	c    *Client
	sock *sio.ClientSocket

	// mu is never held with Client.mu or Client.opMu, nor across a write
	// or a callback.
	mu       sync.Mutex
	queue    []asyncItem // guarded by mu; messages not written yet, in call order
	inFlight int         // guarded by mu; packets written and not answered
	sending  bool        // guarded by mu; a goroutine is writing from queue
	probing  bool        // guarded by mu; the probe array awaits its answer
	state    batchState  // guarded by mu
	err      error       // guarded by mu; the connection is gone: refuse and fail
}

// batchStats counts packets for tests and benchmarks.
type batchStats struct {
	singles atomic.Int64 // `message` packets with one object
	batches atomic.Int64 // `message` packets with an array
	items   atomic.Int64 // messages sent in arrays
	recv    atomic.Int64 // `message` arrays received
}

func newBatcher(c *Client, sock *sio.ClientSocket) *batcher {
	b := &batcher{c: c, sock: sock}
	if !c.cfg.batching {
		b.state = batchOff
	}
	return b
}

// send queues it and, unless another goroutine is writing or the window
// is full, writes. After a nil return it.done gets exactly one answer;
// on error it is never called.
func (b *batcher) send(it asyncItem) error {
	b.mu.Lock()
	if b.err != nil {
		b.mu.Unlock()
		return b.err
	}
	b.queue = append(b.queue, it)
	if b.sending {
		b.mu.Unlock()
		return nil
	}
	b.sending = true
	b.mu.Unlock()
	b.pump()
	return nil
}

// pump writes packets from the head of the queue while it may; the caller
// set sending, and pump clears it before it returns.
func (b *batcher) pump() {
	for {
		now := b.c.cfg.now()
		b.mu.Lock()
		expired := b.expiredLocked(now)
		items, array, ok := b.takeLocked()
		if ok {
			b.inFlight++
			if array && b.state == batchProbe {
				b.probing = true
			}
		} else {
			b.sending = false
		}
		b.mu.Unlock()
		if len(expired) > 0 {
			b.c.failAll(expired, fmt.Errorf("client: message: %w", sio.ErrAckTimeout))
		}
		if !ok {
			return
		}
		b.write(items, array, now)
	}
}

// expiredLocked removes from the head of the queue the messages whose ack
// deadline has passed while they waited to be written: they fail with the
// ack timeout, unsent, as the answer would have come too late anyway. The
// queue is in call order and every call has the same timeout, so they are
// a prefix.
func (b *batcher) expiredLocked(now time.Time) []asyncItem {
	n := 0
	for n < len(b.queue) && !b.queue[n].deadline.IsZero() && !now.Before(b.queue[n].deadline) {
		n++
	}
	if n == 0 {
		return nil
	}
	return b.popLocked(n)
}

// popLocked removes and returns the first n queued messages.
func (b *batcher) popLocked(n int) []asyncItem {
	if n == len(b.queue) {
		items := b.queue
		b.queue = nil
		return items
	}
	items := make([]asyncItem, n)
	copy(items, b.queue)
	clear(b.queue[:n])
	b.queue = b.queue[n:]
	return items
}

// takeLocked removes the next packet's messages from the queue: a run of
// messages without attachments as one array when the hub takes arrays
// (or may), else one message. A message with attachments is never
// batched, and is written even with the window full, as it cannot
// coalesce anyway; so is every message once batching is off.
func (b *batcher) takeLocked() (items []asyncItem, array, ok bool) {
	if b.err != nil || b.probing || len(b.queue) == 0 {
		return nil, false, false
	}
	head := b.queue[0]
	if b.state == batchOff || len(head.m.Attachments) > 0 {
		return b.popLocked(1), false, true
	}
	if b.inFlight >= batchWindow {
		return nil, false, false
	}
	n, size := 1, len(head.m.Args[0])
	for n < len(b.queue) && n < maxBatch {
		next := b.queue[n]
		if len(next.m.Attachments) > 0 || size+1+len(next.m.Args[0]) > maxBatchBytes {
			break
		}
		size += 1 + len(next.m.Args[0])
		n++
	}
	return b.popLocked(n), n > 1, true
}

// write emits one packet; its answer (or failure) goes to every item. The
// packet's ack timeout ends at the oldest item's deadline, so that no call
// waits longer than the ack timeout for its answer, however long it was
// queued.
func (b *batcher) write(items []asyncItem, array bool, now time.Time) {
	timeout := b.c.cfg.ackTimeout
	if dl := items[0].deadline; !dl.IsZero() {
		timeout = max(min(timeout, dl.Sub(now)), time.Millisecond)
	}
	var err error
	if !array {
		it := items[0]
		b.c.stats.singles.Add(1)
		err = b.sock.EmitWithAckFunc("message", it.m, timeout, func(res sio.Message, err error) {
			b.c.answer(it.done, res, err)
			b.answered()
		})
	} else {
		b.c.stats.batches.Add(1)
		b.c.stats.items.Add(int64(len(items)))
		err = b.sock.EmitWithAckFunc("message", sio.Args(encodeBatch(items)), timeout, func(res sio.Message, err error) {
			b.batchAnswered(items, res, err)
		})
	}
	if err != nil {
		b.mu.Lock()
		b.inFlight--
		if array {
			b.probing = false
		}
		b.mu.Unlock()
		b.c.failAll(items, fmt.Errorf("client: message: %w", err))
	}
}

// answered frees the packet's window slot and writes what queued meanwhile,
// unless another goroutine is writing.
func (b *batcher) answered() {
	b.mu.Lock()
	b.inFlight--
	if b.sending || len(b.queue) == 0 {
		b.mu.Unlock()
		return
	}
	b.sending = true
	b.mu.Unlock()
	b.pump()
}

// batchAnswered hands each item its own result from the hub's answer to
// an array: {ok:true, results:[r0, r1, …]}, or one failure for all.
func (b *batcher) batchAnswered(items []asyncItem, res sio.Message, err error) {
	if err == nil && len(res.Args) == 0 {
		err = errors.New("empty reply")
	}
	var results []json.RawMessage
	var f *failure
	if err == nil {
		results, f, err = decodeBatchReply(res.Args[0])
	}
	b.mu.Lock()
	probe := b.probing
	b.probing = false
	if probe {
		switch {
		case err == nil && f == nil:
			b.state = batchOn
		case f != nil && f.Code == CodeBadRequest && b.err == nil:
			// An older hub: nothing was routed. Send these again, first
			// and one by one, and never batch on this connection again.
			// (Once closed, they fail below like any other batch.)
			b.state = batchOff
			b.queue = append(items, b.queue...)
			b.mu.Unlock()
			b.c.log.Info("hub does not take batched messages; sending them one by one", "hub", b.c.Hub())
			b.answered()
			return
		}
	}
	b.mu.Unlock()
	switch {
	case err != nil:
		b.c.failAll(items, fmt.Errorf("client: message: %w", err))
	case f != nil:
		b.c.failAll(items, f.err("message"))
	default:
		for i, it := range items {
			if i < len(results) {
				b.c.answer(it.done, sio.Args(results[i]), nil)
			} else {
				b.c.answer(it.done, sio.Message{}, nil)
			}
		}
	}
	b.answered()
}

// close fails the messages not written yet (the connection is gone) and
// refuses new ones with ErrNotConnected; those written get their failure
// from the connection's pending acks.
func (b *batcher) close() {
	b.mu.Lock()
	b.err = ErrNotConnected
	q := b.queue
	b.queue = nil
	b.mu.Unlock()
	b.c.failAll(q, fmt.Errorf("client: message: %w", sio.ErrClosed))
}

// answer frees the item's window slot and calls done with the decoded
// answer to one message. An answer comes on the connection's reader; a
// failure (err) may come on another goroutine: a timer's, or the one
// closing the connection.
func (c *Client) answer(done func(SendResult, error), res sio.Message, err error) {
	<-c.window
	switch {
	case err != nil:
		defer c.ownGoroutine()()
		c.callDone(done, SendResult{}, fmt.Errorf("client: message: %w", err))
	case len(res.Args) == 0:
		c.callDone(done, SendResult{}, errors.New("client: message: empty reply"))
	default:
		r, err := decodeSendResult(res.Args[0])
		c.callDone(done, r, err)
	}
}

// failAll frees the items' window slots and fails each with err, on the
// calling goroutine (a sender's, a timer's, the supervisor's …).
func (c *Client) failAll(items []asyncItem, err error) {
	if len(items) == 0 {
		return
	}
	defer c.ownGoroutine()()
	for _, it := range items {
		<-c.window
		c.callDone(it.done, SendResult{}, err)
	}
}

// callDone runs a SendMessageAsync callback. A panic in it is logged and
// goes no further: the goroutine it runs on is the client's or a sender's.
func (c *Client) callDone(done func(SendResult, error), res SendResult, err error) {
	defer c.recoverCallback("done")
	done(res, err)
}

// encodeBatch joins the items' objects into one array argument.
func encodeBatch(items []asyncItem) json.RawMessage {
	n := 1
	for _, it := range items {
		n += len(it.m.Args[0]) + 1
	}
	buf := make([]byte, 0, n)
	buf = append(buf, '[')
	for i, it := range items {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, it.m.Args[0]...)
	}
	return append(buf, ']')
}

// decodeBatchReply decodes the answer to an array: the per-item results,
// or the failure of the whole batch.
func decodeBatchReply(raw []byte) ([]json.RawMessage, *failure, error) {
	if results, ok := decodeBatchReplyFast(raw); ok {
		return results, nil, nil
	}
	var r struct {
		failure
		Results json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, nil, fmt.Errorf("bad reply: %w", err)
	}
	if !r.OK {
		return nil, &r.failure, nil
	}
	results, err := codec.SplitArray(r.Results, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("bad reply: results: %w", err)
	}
	return results, nil, nil
}

// decodeBatchReplyFast decodes {"ok":true,"results":[…]} as the hub writes
// it; anything else is left to encoding/json.
func decodeBatchReplyFast(b []byte) ([]json.RawMessage, bool) {
	s := scanner{b: b}
	var results []json.RawMessage
	okSeen, resSeen := false, false
	if !s.object(func(key []byte) bool {
		switch string(key) {
		case "ok":
			return s.okTrue(&okSeen)
		case "results":
			v, ok := s.value()
			if resSeen || !ok {
				return false
			}
			var err error
			results, err = codec.SplitArray(v, nil)
			resSeen = true
			return err == nil
		}
		return false
	}) {
		return nil, false
	}
	return results, okSeen && resSeen && s.rest()
}
