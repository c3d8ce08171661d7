package client

import (
	"errors"
	"fmt"
	"testing"

	"github.com/switchboard-lb/switchboard/internal/sio"
)

// TestHubErrorSentinels: every code the hub can answer on the channel
// matches its sentinel with errors.Is, and no other one.
func TestHubErrorSentinels(t *testing.T) {
	all := []error{ErrNameTaken, ErrNotHolder, ErrInvalidName, ErrNotRegistered, ErrBadRequest, ErrBadAddress,
		ErrTooLarge, ErrUnauthorized, ErrReplaced, ErrRateLimited, ErrUnknownEvent, ErrInternal, ErrUnavailable, ErrTimeout}
	tests := []struct {
		name  string
		event string
		code  string
		want  error // nil: matches none
	}{
		{"not holder", "leave_subs", CodeNotHolder, ErrNotHolder},
		{"leave of a free name", "leave_subs", CodeNotFound, ErrNotHolder},
		{"not found elsewhere", "subs_exists", CodeNotFound, nil},
		{"bad request", "join_room", CodeBadRequest, ErrBadRequest},
		{"bad message", "message", CodeBadMessage, ErrBadRequest},
		{"internal", "join_subs", CodeInternal, ErrInternal},
		{"unavailable", "join_subs", CodeUnavailable, ErrUnavailable},
		{"timeout", "message", CodeTimeout, ErrTimeout},
		{"too large", "message", CodeTooLarge, ErrTooLarge},
		{"unknown event", "drain", CodeUnknownEvent, ErrUnknownEvent},
		{"unknown code", "message", "SOMETHING_NEW", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := fmt.Errorf("wrapped: %w", (&failure{Code: tt.code, Message: "m"}).err(tt.event))
			for _, s := range all {
				if got := errors.Is(err, s); got != (s == tt.want) {
					t.Errorf("%s from %s: errors.Is(%v) = %v", tt.code, tt.event, s, got)
				}
			}
			var he *HubError
			if !errors.As(err, &he) || he.Code != tt.code || he.Event != tt.event {
				t.Errorf("HubError %+v", he)
			}
		})
	}
}

// TestHubErrorCodes: the codes a real hub answers reach the caller as
// their sentinels. Regression: Leave of a name nobody holds (NOT_FOUND)
// and a message to more than 1024 names (BAD_MESSAGE) matched no
// sentinel, though Leave's doc promised ErrNotHolder.
func TestHubErrorCodes(t *testing.T) {
	h := startHub(t, 0)
	c := dial(t, []string{h.URL}, WithAddress(backendURL(t)))
	ctx := tctx(t)
	var he *HubError
	err := c.Leave(ctx, "never-held")
	if !errors.Is(err, ErrNotHolder) || !errors.As(err, &he) || he.Code != CodeNotFound {
		t.Fatalf("Leave of a free name: %v", err)
	}
	to := make([]string, 1025)
	for i := range to {
		to[i] = "u" + itoa(i)
	}
	_, err = c.Send(ctx, to, 1)
	if !errors.Is(err, ErrBadRequest) || !errors.As(err, &he) || he.Code != CodeBadMessage {
		t.Fatalf("send to %d names: %v", len(to), err)
	}
}

// TestHubTroubleCodes: the codes of the hub's own trouble (INTERNAL,
// UNAVAILABLE, TIMEOUT), which a real hub answers only when its engine
// fails, reach the caller as their sentinels (a fake hub answers them).
func TestHubTroubleCodes(t *testing.T) {
	code := make(chan string, 1)
	h := startFakeHub(t, func(_ *sio.Socket, _ sio.Message, ack sio.Ack) {
		_ = ack(sio.Args(raw(`{"ok":false,"code":"` + <-code + `","message":"engine trouble"}`)))
	})
	c := dial(t, []string{h.URL}, WithAddress(backendURL(t)))
	for _, tt := range []struct {
		code string
		want error
	}{{CodeInternal, ErrInternal}, {CodeUnavailable, ErrUnavailable}, {CodeTimeout, ErrTimeout}} {
		code <- tt.code
		if _, err := c.Send(tctx(t), []string{"bob"}, 1); !errors.Is(err, tt.want) {
			t.Fatalf("%s: %v, want %v", tt.code, err, tt.want)
		}
	}
}
