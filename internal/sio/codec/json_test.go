package codec

import "testing"

func TestIsJSONArray(t *testing.T) {
	for in, want := range map[string]bool{
		`[1]`: true, " \n\t[]": true, `{"a":[1]}`: false, `"[x]"`: false, ``: false, `   `: false,
	} {
		if got := IsJSONArray([]byte(in)); got != want {
			t.Errorf("IsJSONArray(%q) = %v, want %v", in, got, want)
		}
	}
}
