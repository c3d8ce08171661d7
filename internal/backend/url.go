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
