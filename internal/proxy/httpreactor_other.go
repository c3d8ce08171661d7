//go:build !linux

package proxy

import "errors"

// hreactor is Linux-only; elsewhere a goroutine serves each connection.
type hreactor struct{}

func newHReactor(*Server) (*hreactor, error) {
	return nil, errors.New("proxy: no HTTP reactor on this platform")
}
func (r *hreactor) park(*fastConn) bool  { return false }
func (r *hreactor) forget(uint64)        {}
func (r *hreactor) unregister(*fastConn) {}
func (r *hreactor) detach(*upConn)       {}
func (r *hreactor) run()                 {}
func (r *hreactor) close()               {}
