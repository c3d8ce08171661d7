package tracker

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// originChecker decides which browser origins may use the tracker.
type originChecker struct {
	any     bool
	allowed []string // lower-case scheme://host[:port]
}

func newOriginChecker(list []string) originChecker {
	var oc originChecker
	for _, o := range list {
		if o == "*" {
			oc.any = true
			continue
		}
		oc.allowed = append(oc.allowed, strings.ToLower(strings.TrimSuffix(o, "/")))
	}
	return oc
}

// listed reports whether origin is explicitly allowed (gets CORS headers).
func (oc originChecker) listed(origin string) bool {
	if oc.any {
		return true
	}
	origin = strings.ToLower(origin)
	for _, o := range oc.allowed {
		if o == origin {
			return true
		}
	}
	return false
}

// ok reports whether a request may proceed: no Origin (not a browser), the
// same origin as the request's Host, or a listed one.
func (oc originChecker) ok(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	return oc.listed(origin) || sameOrigin(origin, r.Host)
}

// sameOrigin compares the Origin's host and port with the Host header
// (behind a reverse proxy, the proxy must pass Host through).
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	return strings.EqualFold(withPort(u.Host, port), withPort(host, port))
}

func withPort(host, def string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), def)
}
