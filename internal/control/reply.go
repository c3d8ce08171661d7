package control

import (
	"encoding/json"
	"errors"

	"github.com/switchboard-lb/switchboard/internal/engine"
	"github.com/switchboard-lb/switchboard/internal/router"
	"github.com/switchboard-lb/switchboard/internal/sio"
)

// Error codes of the channel (docs/PROTOCOL.md), beside the engine's
// (NAME_TAKEN, NOT_HOLDER, INVALID_NAME).
const (
	CodeBadRequest    = "BAD_REQUEST"
	CodeBadAddress    = "BAD_ADDRESS"
	CodeNotRegistered = "NOT_REGISTERED"
	CodeTooLarge      = "TOO_LARGE"
	CodeUnknownEvent  = "UNKNOWN_EVENT"
	CodeReplaced      = "REPLACED"
	CodeInternal      = "INTERNAL"
)

// Failure is the `{ok:false, code, message}` object of the ack/error convention.
type Failure struct {
	OK      bool   `json:"ok"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Event   string `json:"event,omitempty"`  // set on `error` events
	Name    string `json:"name,omitempty"`   // presence failures
	Holder  string `json:"holder,omitempty"` // NAME_TAKEN: the holder's address
	Index   *int   `json:"index,omitempty"`  // an item of a batch, on `error` events
}

func (f *Failure) Error() string { return f.Code + ": " + f.Message }

func fail(code, msg string) *Failure { return &Failure{Code: code, Message: msg} }

// failureOf maps an error from the router or engine to a Failure.
func failureOf(err error) *Failure {
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	code := engine.Code(err)
	switch {
	case errors.Is(err, router.ErrNotRegistered):
		code = CodeNotRegistered
	case code == "" || code == "INTERNAL":
		code = CodeInternal
	}
	return &Failure{Code: code, Message: err.Error()}
}

// reply answers an event: v (an object with "ok":true) to the ack if the
// sender asked for one. Nothing is sent otherwise.
func reply(ack sio.Ack, v any) {
	if ack == nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"ok":false,"code":"INTERNAL","message":"encode reply"}`)
	}
	_ = ack(sio.Args(b))
}

// replyFail answers a failed event: to the ack if asked, else as an `error`
// event, so backends that never ask for acks still learn of it.
func (s *session) replyFail(event string, ack sio.Ack, f *Failure) {
	f.OK = false
	if ack != nil {
		reply(ack, f)
		return
	}
	g := *f
	g.Event = event
	b, _ := json.Marshal(&g)
	_ = s.sock.Emit("error", sio.Args(b))
}
