package backend

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// ParseURL checks a backend's base URL against the address rules shared by
// static backends (configuration) and the /list channel's `address` event:
// http or https, a host and an explicit port, no userinfo, no query,
// fragment or path, and no literal `{` or `}` (an unexpanded template such
// as the original snippet's "http://{ip}:{port}"). The error says which rule
// failed.
func ParseURL(raw string) (*url.URL, error) {
	if strings.ContainsAny(raw, "{}") {
		return nil, fmt.Errorf("%q: contains { or } (an unexpanded template? use a real template string)", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%q: not a URL", raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q: scheme must be http or https", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%q: must not contain userinfo", raw)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%q: no host", raw)
	}
	n, err := strconv.Atoi(u.Port())
	if err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("%q: needs an explicit port 1-65535", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, fmt.Errorf("%q: must not contain a query or fragment", raw)
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("%q: must not contain a path", raw)
	}
	u.Path = ""
	return u, nil
}

// MaxWeight bounds a backend's weight, static or announced.
const MaxWeight = 1000

// ParseStatic parses a static backend entry: a URL (ParseURL's rules),
// optionally followed by space-separated options; the only one is
// weight=N (1..MaxWeight, default 1), as in
// "http://10.0.0.5:3001 weight=3".
func ParseStatic(entry string) (u *url.URL, weight int, err error) {
	fields := strings.Fields(entry)
	if len(fields) == 0 {
		return nil, 0, fmt.Errorf("%q: empty", entry)
	}
	if u, err = ParseURL(fields[0]); err != nil {
		return nil, 0, err
	}
	weight = 1
	for _, f := range fields[1:] {
		v, ok := strings.CutPrefix(f, "weight=")
		if !ok {
			return nil, 0, fmt.Errorf("%q: unknown option %q (the only one is weight=N)", entry, f)
		}
		if weight, err = strconv.Atoi(v); err != nil || weight < 1 || weight > MaxWeight {
			return nil, 0, fmt.Errorf("%q: weight must be an integer 1-%d", entry, MaxWeight)
		}
	}
	return u, weight, nil
}
