package sio

import (
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/switchboard-lb/switchboard/internal/sio/eio"
)

// closeConn is an engine session that only records its Close (fault
// injection: it lets a test accept sessions exactly while Server.Close runs).
type closeConn struct {
	once sync.Once
	done chan struct{}
}

func (f *closeConn) ID() string                        { return "fake" }
func (f *closeConn) Transport() string                 { return "websocket" }
func (f *closeConn) RemoteAddr() string                { return "127.0.0.1:1" }
func (f *closeConn) Header() http.Header               { return nil }
func (f *closeConn) Query() url.Values                 { return nil }
func (f *closeConn) Send(msgs ...eio.Message) error    { return nil }
func (f *closeConn) TrySend(msgs ...eio.Message) error { return nil }
func (f *closeConn) Close(string)                      { f.once.Do(func() { close(f.done) }) }
func (f *closeConn) Done() <-chan struct{}             { return f.done }

// TestAcceptDuringClose: a session accepted while Close runs is either
// closed by Close (and waited for) or refused at once; the race detector
// checks that the live WaitGroup is never added to while Close waits on it.
func TestAcceptDuringClose(t *testing.T) {
	for range 200 {
		s := NewServer(Config{}, nil)
		f := &closeConn{done: make(chan struct{})}
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c := s.accept(f)
			<-f.Done() // closed by Close, or by accept itself after Close
			c.OnClose(nil, "closed")
		}()
		close(start)
		s.Close()
		wg.Wait()
	}
}
