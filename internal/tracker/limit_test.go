package tracker

import (
	"net/http"
	"testing"
)

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		origin, host string
		want         bool
	}{
		{"http://127.0.0.1:8080", "127.0.0.1:8080", true},
		{"http://Example.com", "example.com", true},
		{"http://example.com", "example.com:80", true},
		{"https://example.com", "example.com", true},
		{"https://example.com", "example.com:80", false},
		{"http://example.com:8080", "example.com", false},
		{"http://[::1]:8080", "[::1]:8080", true},
		{"null", "example.com", false},
		{"ftp://example.com", "example.com", false},
		{"", "example.com", false},
	} {
		if got := sameOrigin(tc.origin, tc.host); got != tc.want {
			t.Errorf("sameOrigin(%q, %q) = %v", tc.origin, tc.host, got)
		}
	}
}

// FuzzOrigin: the origin check never panics and is symmetric in case.
func FuzzOrigin(f *testing.F) {
	for _, s := range [][2]string{
		{"http://127.0.0.1:8080", "127.0.0.1:8080"}, {"https://a.example", "a.example"}, {"null", "x"},
		{"http://[::1]", "[::1]:80"}, {"http://%zz", "h"}, {"", ""},
	} {
		f.Add(s[0], s[1])
	}
	oc := newOriginChecker([]string{"https://page.example"})
	f.Fuzz(func(t *testing.T, origin, host string) {
		r := &http.Request{Host: host, Header: http.Header{"Origin": {origin}}}
		ok := oc.ok(r)
		if origin == "" && !ok {
			t.Fatal("no Origin refused")
		}
		if first, second := sameOrigin(origin, host), sameOrigin(origin, host); first != second {
			t.Fatal("not deterministic")
		}
	})
}
