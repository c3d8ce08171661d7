package client

import (
	"encoding/json"
	"testing"
)

// TestAppendJSONStrings: the helpers write what encoding/json writes.
func TestAppendJSONStrings(t *testing.T) {
	cases := []string{"", "alice", `quote " and \ backslash`, "<tag>&amp;", "tab\tnew\nline\x00", "é ü 日本", "bad \xff utf-8", "\u2028\u2029"}
	for _, s := range cases {
		want, _ := json.Marshal(s)
		if got := AppendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("AppendJSONString(%q) = %s, want x%s", s, got, want)
		}
	}
	for _, ss := range [][]string{nil, {}, {"a"}, cases} {
		want, _ := json.Marshal(ss)
		if ss == nil {
			want = []byte("[]")
		}
		if got := AppendJSONStrings(nil, ss); string(got) != string(want) {
			t.Errorf("AppendJSONStrings(%q) = %s, want %s", ss, got, want)
		}
	}
}
