//go:build linux && (mips || mipsle || mips64 || mips64le)

package rawio

import "errors"

// SendRing is unavailable on MIPS (io_uring's system-call numbers differ
// there and are not wired up); NewSendRing always fails, and callers write
// one socket at a time.
type SendRing struct{}

// ErrRingBroken is the result of a send whose outcome is unknown.
var ErrRingBroken = errors.New("rawio: send ring failed")

// NewSendRing fails: see SendRing.
func NewSendRing(n int) (*SendRing, error) {
	return nil, errors.New("rawio: no io_uring on this architecture")
}

func (r *SendRing) Len() int                  { return 0 }
func (r *SendRing) Cap() int                  { return 0 }
func (r *SendRing) Send(fd int, p []byte) int { panic("rawio: SendRing full") }
func (r *SendRing) Submit() error             { return ErrRingBroken }
func (r *SendRing) Result(i int) (int, error) { return 0, ErrRingBroken }
func (r *SendRing) Close() error              { return nil }
