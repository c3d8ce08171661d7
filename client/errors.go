package client

import (
	"errors"
	"fmt"

	"github.com/switchboard-lb/switchboard/internal/sio"
)

// Errors. The hub's error codes (docs/PROTOCOL.md) map to these sentinels;
// match them with errors.Is. Every hub failure is a *HubError (or a
// *NameTakenError for NAME_TAKEN), which carries the code and the hub's
// message.
var (
	// ErrNameTaken (NAME_TAKEN): another live backend holds the name;
	// errors.As a *NameTakenError for the holder's address.
	ErrNameTaken = errors.New("client: name taken")
	// ErrNotHolder (NOT_HOLDER): this backend does not hold the name it
	// released. Leave of a name nobody holds (the hub's NOT_FOUND for
	// leave_subs) matches it too; HubError.Code tells them apart.
	ErrNotHolder = errors.New("client: not the holder of the name")
	// ErrInvalidName (INVALID_NAME): empty, not UTF-8, control characters or too long.
	ErrInvalidName = errors.New("client: invalid name")
	// ErrNotRegistered (NOT_REGISTERED): an event before the address was accepted.
	ErrNotRegistered = errors.New("client: not registered")
	// ErrBadRequest (BAD_REQUEST, BAD_MESSAGE): malformed arguments, or a
	// message the hub refuses to route (more recipients than its limit,
	// 1024 by default).
	ErrBadRequest = errors.New("client: bad request")
	// ErrBadAddress (BAD_ADDRESS): the hub refused the backend's address.
	// Permanent: Dial returns it and a running client stops with it.
	ErrBadAddress = errors.New("client: address refused")
	// ErrTooLarge (TOO_LARGE): a payload over the hub's limits.
	ErrTooLarge = errors.New("client: too large")
	// ErrUnauthorized: the hub refused the connection (missing or wrong
	// token, or a remote peer without a token). Permanent.
	ErrUnauthorized = errors.New("client: unauthorized")
	// ErrReplaced (REPLACED): another session announced this backend's
	// address; the hub disconnected this one. Final: the client stops.
	ErrReplaced = errors.New("client: replaced by another session")
	// ErrClosed: the client was closed (or stopped for the reason Err gives).
	ErrClosed = errors.New("client: closed")
	// ErrNotConnected: SendMessageAsync found the client between two
	// connections to the hub (reconnecting); the message was not sent.
	ErrNotConnected = errors.New("client: not connected to a hub")
	// ErrDisconnected: the hub ended this backend's session on purpose
	// (a server-side disconnect other than REPLACED). Final.
	ErrDisconnected = errors.New("client: disconnected by the hub")
	// ErrRateLimited (RATE_LIMITED): the hub throttled this backend.
	// Reserved: the hub sends RATE_LIMITED only on its HTTP message route
	// today, never on the channel.
	ErrRateLimited = errors.New("client: rate limited")
	// ErrInternal (INTERNAL): the hub failed on its side (an unexpected
	// engine error). Transient: the call may succeed when retried.
	ErrInternal = errors.New("client: hub internal error")
	// ErrUnavailable (UNAVAILABLE): the hub's engine is closed or
	// unreachable (e.g. the hub is shutting down). Transient.
	ErrUnavailable = errors.New("client: hub unavailable")
	// ErrTimeout (TIMEOUT): an operation inside the hub (its engine, e.g.
	// NATS) timed out. Transient. Not to be confused with ErrAckTimeout,
	// the client giving up on the hub's answer.
	ErrTimeout = errors.New("client: hub timeout")
	// ErrUnknownEvent (UNKNOWN_EVENT): the hub does not know the event
	// (an older Switchboard).
	ErrUnknownEvent = errors.New("client: unknown event")
	// ErrAckTimeout: the hub's answer did not come within WithAckTimeout
	// (a call whose context has a deadline gets the context's error
	// instead). A message that was written may or may not have been
	// routed; one SendMessageAsync still held in its queue at the deadline
	// was not sent.
	ErrAckTimeout = sio.ErrAckTimeout
)

// Hub error codes (docs/PROTOCOL.md).
const (
	CodeNameTaken     = "NAME_TAKEN"
	CodeNotHolder     = "NOT_HOLDER"
	CodeInvalidName   = "INVALID_NAME"
	CodeNotRegistered = "NOT_REGISTERED"
	CodeBadRequest    = "BAD_REQUEST"
	CodeBadAddress    = "BAD_ADDRESS"
	CodeTooLarge      = "TOO_LARGE"
	CodeUnknownEvent  = "UNKNOWN_EVENT"
	CodeReplaced      = "REPLACED"
	CodeRateLimited   = "RATE_LIMITED"
	CodeInternal      = "INTERNAL"
	CodeUnavailable   = "UNAVAILABLE"
	CodeTimeout       = "TIMEOUT"
	CodeNotFound      = "NOT_FOUND"    // leave_subs of a name nobody holds (matches ErrNotHolder)
	CodeBadMessage    = "BAD_MESSAGE"  // a message the hub cannot route (matches ErrBadRequest)
	CodeUnauthorized  = "UNAUTHORIZED" // a refused CONNECT; not sent by the hub as a code
)

var sentinels = map[string]error{
	CodeNameTaken:     ErrNameTaken,
	CodeNotHolder:     ErrNotHolder,
	CodeInvalidName:   ErrInvalidName,
	CodeNotRegistered: ErrNotRegistered,
	CodeBadRequest:    ErrBadRequest,
	CodeBadAddress:    ErrBadAddress,
	CodeTooLarge:      ErrTooLarge,
	CodeUnknownEvent:  ErrUnknownEvent,
	CodeReplaced:      ErrReplaced,
	CodeRateLimited:   ErrRateLimited,
	CodeInternal:      ErrInternal,
	CodeUnavailable:   ErrUnavailable,
	CodeTimeout:       ErrTimeout,
	CodeBadMessage:    ErrBadRequest,
	CodeUnauthorized:  ErrUnauthorized,
}

// HubError is a failure the hub answered with {ok:false, code, message}.
// errors.Is matches it against the sentinel of its code (ErrBadRequest for
// BAD_REQUEST and BAD_MESSAGE, ErrNotHolder for NOT_HOLDER and for
// leave_subs' NOT_FOUND, …); codes without a sentinel match none.
type HubError struct {
	Event   string // the event that failed ("join_subs", "message", …)
	Code    string // upper-case code, e.g. "BAD_REQUEST"
	Message string // the hub's explanation
	Name    string // the user name concerned, for per-name presence failures
}

func (e *HubError) Error() string {
	s := "client: " + e.Event + ": " + e.Code
	if e.Name != "" {
		s += " " + fmt.Sprintf("%q", e.Name)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is reports whether target is the sentinel of e's code.
func (e *HubError) Is(target error) bool {
	if e.Code == CodeNotFound && e.Event == "leave_subs" {
		// Leave of a name nobody holds: to the caller, as for a name
		// another backend holds, it was not the holder.
		return target == ErrNotHolder
	}
	s, ok := sentinels[e.Code]
	return ok && s == target
}

// NameTakenError is a NAME_TAKEN failure: Name is held by the backend at
// Holder (its address; empty when the hub does not know it).
// errors.Is(err, ErrNameTaken) is true.
type NameTakenError struct {
	Name    string
	Holder  string
	Message string
}

func (e *NameTakenError) Error() string {
	s := fmt.Sprintf("client: name %q taken", e.Name)
	if e.Holder != "" {
		s += " by " + e.Holder
	}
	return s
}

// Is matches ErrNameTaken.
func (e *NameTakenError) Is(target error) bool { return target == ErrNameTaken }

// failure is the {ok:false, code, message, name?, holder?} object.
type failure struct {
	OK      bool   `json:"ok"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Event   string `json:"event"`
	Name    string `json:"name"`
	Holder  string `json:"holder"`
}

func (f *failure) err(event string) error {
	if f.Code == CodeNameTaken {
		return &NameTakenError{Name: f.Name, Holder: f.Holder, Message: f.Message}
	}
	code := f.Code
	if code == "" {
		code = "FAILED"
	}
	return &HubError{Event: event, Code: code, Message: f.Message, Name: f.Name}
}

// transient reports whether a hub failure code may succeed on a retry
// (the hub's own trouble rather than the request's).
func transient(code string) bool {
	switch code {
	case CodeInternal, CodeTimeout, CodeUnavailable, CodeRateLimited, CodeNotRegistered:
		return true
	}
	return false
}
