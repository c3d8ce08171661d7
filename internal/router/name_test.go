package router_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard-lb/switchboard/internal/engine"
	"github.com/switchboard-lb/switchboard/internal/router"
)

func TestValidateName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"ascii", "sadman", true},
		{"spaces and punctuation", "Ihsan H. #2", true},
		{"unicode", "সাদমান", true},
		{"emoji", "baki🚀", true},
		{"max length", strings.Repeat("a", 128), true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", 129), false},
		{"too long multibyte", strings.Repeat("é", 65), false},
		{"nul", "a\x00", false},
		{"tab", "a\tb", false},
		{"del", "a\x7f", false},
		{"c1 control", "a\u0085b", false},
		{"invalid utf8", "\xc3\x28", false},
		{"surrogate half", "\xed\xa0\x80", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := router.ValidateName(tt.in, 128)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateName(%q) = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if err != nil && !errors.Is(err, engine.ErrInvalidName) {
				t.Fatalf("error %v does not match ErrInvalidName", err)
			}
		})
	}
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"sadman", "", "a\x00", "\xff", "সাদমান", "a\u0085", strings.Repeat("x", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := router.ValidateName(s, 32)
		valid := s != "" && len(s) <= 32 && utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
		if (err == nil) != valid {
			t.Fatalf("ValidateName(%q) = %v, want valid=%v", s, err, valid)
		}
	})
}
