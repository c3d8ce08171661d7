package engine

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestCode(t *testing.T) {
	t.Parallel()
	custom := NewCodeError("TOO_LARGE", "router: message too large")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "nil", err: nil, want: ""},
		{name: "taken", err: ErrNameTaken, want: "NAME_TAKEN"},
		{name: "taken typed wrapped", err: fmt.Errorf("join: %w", &TakenError{Name: "a", Holder: "b1"}), want: "NAME_TAKEN"},
		{name: "not holder", err: fmt.Errorf("leave: %w", ErrNotHolder), want: "NOT_HOLDER"},
		{name: "invalid", err: ErrInvalidName, want: "INVALID_NAME"},
		{name: "not found", err: ErrNotFound, want: "NOT_FOUND"},
		{name: "closed", err: ErrClosed, want: "UNAVAILABLE"},
		{name: "custom", err: fmt.Errorf("x: %w", custom), want: "TOO_LARGE"},
		{name: "deadline", err: context.DeadlineExceeded, want: "TIMEOUT"},
		{name: "plain", err: errors.New("boom"), want: CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Code(tt.err); got != tt.want {
				t.Errorf("Code(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestTakenError(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("claim: %w", &TakenError{Name: "alif", Holder: "s-1"})
	if !errors.Is(err, ErrNameTaken) {
		t.Fatal("errors.Is(ErrNameTaken) = false")
	}
	var te *TakenError
	if !errors.As(err, &te) || te.Holder != "s-1" || te.Name != "alif" {
		t.Fatalf("errors.As = %+v", te)
	}
	if errors.Is(err, ErrNotHolder) {
		t.Fatal("TakenError matches ErrNotHolder")
	}
}
