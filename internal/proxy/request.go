package proxy

import (
	"bufio"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
)

// hopHeader reports whether a request header (canonical name) is not
// forwarded as it is: the hop-by-hop set of RFC 9110 §7.6.1 plus the
// headers this proxy writes itself.
func hopHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Content-Length", "Expect", "Via",
		"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded":
		return true
	}
	return false
}

// upgradeType returns the protocol a request asks to upgrade to, or "".
func upgradeType(h http.Header) string {
	c := h["Connection"]
	if len(c) == 0 {
		return ""
	}
	found := false
	for _, v := range c {
		forEachToken([]byte(v), func(t []byte) {
			if asciiEqualFold(t, "upgrade") {
				found = true
			}
		})
	}
	if !found {
		return ""
	}
	return h.Get("Upgrade")
}

// connectionTokens returns the header names a request lists in Connection
// (other than keep-alive, close and upgrade), canonicalised.
func connectionTokens(h http.Header) []string {
	var out []string
	for _, v := range h["Connection"] {
		forEachToken([]byte(v), func(t []byte) {
			if asciiEqualFold(t, "keep-alive") || asciiEqualFold(t, "close") || asciiEqualFold(t, "upgrade") {
				return
			}
			out = append(out, textproto.CanonicalMIMEHeaderKey(string(t)))
		})
	}
	return out
}

// viaHasNode reports whether any Via entry was received by node
// ("1.1 node" or "HTTP/1.1 node", optionally followed by a comment).
func viaHasNode(vias []string, node string) bool {
	for _, v := range vias {
		if !strings.Contains(v, node) {
			continue
		}
		for entry := range strings.SplitSeq(v, ",") {
			f := strings.Fields(entry)
			if len(f) >= 2 && f[1] == node {
				return true
			}
		}
	}
	return false
}

// forwarded holds what the proxy adds to a request about its client.
type forwarded struct {
	xff, proto, host string
	via              string
}

// clientIP returns the host part of r.RemoteAddr.
func clientIP(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// forwardedFor computes the X-Forwarded-* values and Via for r: incoming
// X-Forwarded-* are kept (and extended) only when the peer is trusted.
func (p *Proxy) forwardedFor(r *http.Request) forwarded {
	ip := clientIP(r.RemoteAddr)
	trusted := false
	if len(p.trusted) > 0 {
		if a, err := netip.ParseAddr(ip); err == nil {
			a = a.Unmap()
			for _, pr := range p.trusted {
				if pr.Contains(a) {
					trusted = true
					break
				}
			}
		}
	}
	f := forwarded{xff: ip, via: p.via}
	if r.ProtoMajor == 2 {
		f.via = p.via2 // Via names the protocol the request came in
	}
	if r.TLS != nil {
		f.proto = "https"
	} else {
		f.proto = "http"
	}
	f.host = r.Host
	if trusted {
		if prior := r.Header["X-Forwarded-For"]; len(prior) > 0 {
			f.xff = strings.Join(prior, ", ") + ", " + ip
		}
		if v := r.Header.Get("X-Forwarded-Proto"); v != "" {
			f.proto = v
		}
		if v := r.Header.Get("X-Forwarded-Host"); v != "" {
			f.host = v
		}
	}
	if prior := r.Header["Via"]; len(prior) > 0 {
		f.via = strings.Join(prior, ", ") + ", " + f.via
	}
	return f
}

// writeRequestHead writes the request line and headers for r to bw.
// bodyFraming is "" (no body), "cl" (Content-Length) or "chunked".
func (p *Proxy) writeRequestHead(bw *bufio.Writer, r *http.Request, upgrade string, framing int, f *forwarded) {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	if uri := r.RequestURI; len(uri) > 0 && uri[0] == '/' {
		bw.WriteString(uri)
	} else {
		bw.WriteString(r.URL.RequestURI())
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(r.Host)
	bw.WriteString("\r\n")
	var skip []string
	if _, ok := r.Header["Connection"]; ok {
		skip = connectionTokens(r.Header)
	}
outer:
	for k, vv := range r.Header {
		if hopHeader(k) {
			continue
		}
		for _, s := range skip {
			if s == k {
				continue outer
			}
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if upgrade != "" {
		bw.WriteString("Connection: Upgrade\r\nUpgrade: ")
		bw.WriteString(upgrade)
		bw.WriteString("\r\n")
	}
	switch framing {
	case framingLength:
		bw.WriteString("Content-Length: ")
		var b [20]byte
		bw.Write(strconv.AppendInt(b[:0], r.ContentLength, 10))
		bw.WriteString("\r\n")
	case framingChunked:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	bw.WriteString("X-Forwarded-For: ")
	bw.WriteString(f.xff)
	bw.WriteString("\r\nX-Forwarded-Proto: ")
	bw.WriteString(f.proto)
	bw.WriteString("\r\nX-Forwarded-Host: ")
	bw.WriteString(f.host)
	bw.WriteString("\r\nVia: ")
	bw.WriteString(f.via)
	bw.WriteString("\r\n\r\n")
}

// Request body framings.
const (
	framingNone = iota
	framingLength
	framingChunked
)

func requestFraming(r *http.Request) int {
	switch {
	case r.Body == nil || r.Body == http.NoBody:
		return framingNone
	case r.ContentLength > 0:
		return framingLength
	case r.ContentLength == 0:
		return framingNone
	default:
		return framingChunked
	}
}

// idempotent reports whether r may be sent again after a connection died
// before any response byte: an idempotent method without a streamed body.
func idempotent(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return requestFraming(r) == framingNone
	}
	return false
}
