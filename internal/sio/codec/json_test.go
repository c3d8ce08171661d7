package codec

import (
	"encoding/json"
	"testing"
)

func TestIsJSONArray(t *testing.T) {
	for in, want := range map[string]bool{
		`[1]`: true, " \n\t[]": true, `{"a":[1]}`: false, `"[x]"`: false, ``: false, `   `: false,
	} {
		if got := IsJSONArray([]byte(in)); got != want {
			t.Errorf("IsJSONArray(%q) = %v, want %v", in, got, want)
		}
	}
}

// FuzzAppendJSONStrings holds the string encoders to encoding/json, which
// the control channel and the Go SDK relied on before they shared these.
func FuzzAppendJSONStrings(f *testing.F) {
	for _, s := range []string{"", "alice", `q"uo\te`, "<a&b>", "tab\there\n", "\x00\x1f\x7f", "é世界", "\u2028\u2029", "\xff\xfe bad", "\xe2\x80"} {
		f.Add(s, "bob")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		want, _ := json.Marshal(a)
		if got := AppendJSONString([]byte("x"), a); string(got) != "x"+string(want) {
			t.Fatalf("AppendJSONString(%q) = %s, want %s", a, got[1:], want)
		}
		for _, ss := range [][]string{nil, {a}, {a, b}} {
			want, _ := json.Marshal(append([]string{}, ss...))
			if got := AppendJSONStrings(nil, ss); string(got) != string(want) {
				t.Fatalf("AppendJSONStrings(%q) = %s, want %s", ss, got, want)
			}
		}
	})
}
