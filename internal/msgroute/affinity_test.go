package msgroute

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestUserKeyName(t *testing.T) {
	t.Parallel()
	k := UserKey{Query: "user", Header: "X-User", Cookie: "u"}
	for _, tc := range []struct {
		name, url, header, cookie, want string
	}{
		{name: "query wins", url: "/?user=alice", header: "bob", cookie: "carol", want: "alice"},
		{name: "header next", url: "/", header: "bob", cookie: "carol", want: "bob"},
		{name: "cookie last", url: "/", cookie: "carol", want: "carol"},
		{name: "none", url: "/?other=x", want: ""},
		{name: "escaped", url: "/?user=al%20ice", want: "al ice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", tc.url, nil)
			if tc.header != "" {
				r.Header.Set("X-User", tc.header)
			}
			if tc.cookie != "" {
				r.AddCookie(&http.Cookie{Name: "u", Value: tc.cookie})
			}
			if got := k.Name(r); got != tc.want {
				t.Fatalf("Name = %q, want %q", got, tc.want)
			}
		})
	}
	if (UserKey{}).Enabled() || !k.Enabled() {
		t.Fatal("Enabled")
	}
}

// FuzzUserKeyName: key extraction from arbitrary query, header and cookie
// values never panics.
func FuzzUserKeyName(f *testing.F) {
	f.Add("user=alice", "bob", "u=carol")
	f.Add("user=%zz", "", "u=")
	f.Add(";;&&==", "\x00", "u=\"x\"; u=y")
	k := UserKey{Query: "user", Header: "X-User", Cookie: "u"}
	f.Fuzz(func(t *testing.T, query, header, cookie string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.RawQuery = query
		r.Header["X-User"] = []string{header}
		r.Header["Cookie"] = []string{cookie}
		_ = k.Name(r)
	})
}
