//go:build !linux

package proxy

import "errors"

// reactor is Linux-only; elsewhere every tunnel direction has a goroutine.
type reactor struct{ ringErr error }

func newReactor(spawn func(func()), ring bool) (*reactor, error) {
	return nil, errors.New("proxy: no reactor on this platform")
}
func (r *reactor) add(d *dir) error { return errors.New("proxy: no reactor") }
func (r *reactor) arm(d *dir) error { return errors.New("proxy: no reactor") }
func (r *reactor) remove(d *dir)    {}
func (r *reactor) takeOver(d *dir)  {}
func (r *reactor) run()             {}
func (r *reactor) close()           {}
func (r *reactor) usesRing() bool   { return false }
func (r *reactor) cutArena(n int)   {}
