package engine

import (
	"errors"
	"fmt"
)

// codeError is an error carrying a stable channel code.
type codeError struct {
	code string
	msg  string
}

func (e *codeError) Error() string { return e.msg }

// Code returns the stable upper-case channel code.
func (e *codeError) Code() string { return e.code }

// NewCodeError returns a new sentinel error whose Code is code (upper case,
// stable: backends match on it) and whose text is msg. Other packages use it
// for their own coded sentinels so that Code understands them.
func NewCodeError(code, msg string) error { return &codeError{code: code, msg: msg} }

// Errors returned by engines and by the router. Match with errors.Is; the
// channel code each carries is given by Code.
var (
	// ErrNameTaken: the name is held by another live backend session
	// (code NAME_TAKEN). Engines return it wrapped in a *TakenError.
	ErrNameTaken = NewCodeError("NAME_TAKEN", "engine: name taken")
	// ErrNotHolder: the caller does not hold the name it tried to release
	// (code NOT_HOLDER).
	ErrNotHolder = NewCodeError("NOT_HOLDER", "engine: not the holder of the name")
	// ErrInvalidName: empty, not UTF-8, control characters or too long
	// (code INVALID_NAME).
	ErrInvalidName = NewCodeError("INVALID_NAME", "engine: invalid name")
	// ErrNotFound: no such name (code NOT_FOUND).
	ErrNotFound = NewCodeError("NOT_FOUND", "engine: not found")
	// ErrClosed: the engine was closed (code UNAVAILABLE).
	ErrClosed = NewCodeError("UNAVAILABLE", "engine: closed")
)

// CodeInternal is the code Code gives an error that carries none.
const CodeInternal = "INTERNAL"

// Code maps err to its stable upper-case channel code: the code of the first
// error in err's chain that has a Code() string method (every sentinel of
// this package, *TakenError, and errors made with NewCodeError), "TIMEOUT"
// for context.DeadlineExceeded-like errors without one, CodeInternal for any
// other error, and "" for nil.
func Code(err error) string {
	if err == nil {
		return ""
	}
	var c interface{ Code() string }
	if errors.As(err, &c) {
		return c.Code()
	}
	var t interface{ Timeout() bool }
	if errors.As(err, &t) && t.Timeout() {
		return "TIMEOUT"
	}
	return CodeInternal
}

// TakenError reports a claim refused because another live backend session
// holds the name. errors.Is(err, ErrNameTaken) is true for it; use errors.As
// to read the holder.
type TakenError struct {
	Name   string // the name claimed
	Holder string // backend ID of the live holder
}

func (e *TakenError) Error() string {
	return fmt.Sprintf("engine: name %q taken by backend %s", e.Name, e.Holder)
}

// Code returns NAME_TAKEN.
func (e *TakenError) Code() string { return "NAME_TAKEN" }

// Unwrap returns ErrNameTaken.
func (e *TakenError) Unwrap() error { return ErrNameTaken }
