package client

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

// logLines returns a logger whose records go to l, one line each:
// "LEVEL msg key=value …", With's attributes included (lineLog.wait finds
// them).
func logLines(l *lineLog) *slog.Logger { return slog.New(lineHandler{l: l}) }

type lineHandler struct {
	l     *lineLog
	attrs []slog.Attr
}

func (h lineHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.l.add(b.String())
	return nil
}

func (h lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return lineHandler{l: h.l, attrs: append(slices.Clip(h.attrs), as...)}
}

func (h lineHandler) WithGroup(string) slog.Handler { return h } // the client uses no groups

// waitLog waits for a line of l containing all of subs.
func waitLog(tb testing.TB, l *lineLog, subs ...string) string {
	tb.Helper()
	line, ok := l.wait(wait, subs...)
	if !ok {
		tb.Fatalf("no log line with %q:\n%s", subs, l.Tail(40))
	}
	return line
}

// TestWithLogger: the client logs through the logger WithLogger gives,
// tagged with its component.
func TestWithLogger(t *testing.T) {
	h := startHub(t, 0)
	logs := newLineLog()
	c := dial(t, []string{h.URL}, WithAddress(backendURL(t)), WithLogger(logLines(logs)))
	waitLog(t, logs, "INFO registered", "component=switchboard-client", "backend_addr="+c.Address(), "hub="+h.URL)
}
