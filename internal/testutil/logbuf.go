package testutil

import (
	"bytes"
	"sync"
)

// LogBuffer collects what a process or a logger writes, safe for
// concurrent writers and readers. It keeps the first Max bytes (default
// 4 MiB) and drops the rest.
type LogBuffer struct {
	Max int
	mu  sync.Mutex
	b   bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	max := l.Max
	if max <= 0 {
		max = 4 << 20
	}
	if room := max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// String returns what was kept so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
