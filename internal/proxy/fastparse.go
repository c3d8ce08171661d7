package proxy

import "bytes"

// fastReq is a request head recognised by the front end's fast path. It
// points into the connection's read buffer and is valid until the next read.
//
// The fast path accepts only a strict subset of HTTP/1.1 (RFC 9112):
// anything outside it is handed to net/http unchanged, which then applies
// its own rules (and answers 400 where they say so). Outside the subset:
// any version but HTTP/1.1; a request-target that is not origin-form
// visible ASCII; bare LF or CR; obs-fold; whitespace before a colon; control
// characters in a field value; a missing or repeated Host; any
// Content-Length or Transfer-Encoding (so every fast request is bodyless
// and smuggling through body framing is impossible); Upgrade, Expect, or a
// Connection header naming anything but keep-alive/close; heads larger
// than the buffer. FuzzFastParse checks that net/http accepts everything
// the fast path accepts and reads it the same way.
type fastReq struct {
	method, target, host []byte
	// headers to forward as they are: the head's field lines without
	// hop-by-hop fields and without X-Forwarded-*, Forwarded and Via.
	fwd   [][]byte // each a full "Name: value" line without CRLF
	xff   [][]byte // X-Forwarded-For values
	xfp   []byte   // last X-Forwarded-Proto
	xfh   []byte   // last X-Forwarded-Host
	via   [][]byte // Via values
	close bool     // Connection: close
	size  int      // bytes of the head including the final CRLF
}

// parseFast parses the request head at the start of b, which must hold the
// whole head. ok is false when the head is not on the fast path (including
// when b holds no complete head).
func parseFast(b []byte, r *fastReq) (ok bool) {
	fwd := r.fwd[:0]
	*r = fastReq{fwd: fwd}
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return false
	}
	r.size = end + 4
	head := b[:end+2] // every line ends in CRLF
	// request-line
	i := bytes.Index(head, []byte("\r\n"))
	line := head[:i]
	head = head[i+2:]
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || sp > 16 {
		return false
	}
	r.method = line[:sp]
	for _, c := range r.method {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	rest := line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp <= 0 || string(rest[sp+1:]) != "HTTP/1.1" {
		return false
	}
	r.target = rest[:sp]
	if r.target[0] != '/' || (len(r.target) > 1 && r.target[1] == '/') {
		return false // not origin-form ("//x" could be read as authority)
	}
	for i := 0; i < len(r.target); i++ {
		c := r.target[i]
		if c <= 0x20 || c >= 0x7f || c == '#' {
			return false
		}
		if c == '%' && (i+2 >= len(r.target) || !isHex(r.target[i+1]) || !isHex(r.target[i+2])) {
			return false // net/url refuses a bad escape
		}
	}
	for len(head) > 0 {
		i := bytes.Index(head, []byte("\r\n"))
		line := head[:i]
		head = head[i+2:]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return false
		}
		name := line[:colon]
		if !validToken(name) {
			return false
		}
		val := line[colon+1:]
		for _, c := range val {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				return false
			}
		}
		val = trimOWS(val)
		switch {
		case asciiEqualFold(name, "host"):
			if r.host != nil || !validHost(val) {
				return false
			}
			r.host = val
			continue
		case asciiEqualFold(name, "content-length"), asciiEqualFold(name, "transfer-encoding"),
			asciiEqualFold(name, "upgrade"), asciiEqualFold(name, "expect"):
			return false
		case asciiEqualFold(name, "connection"):
			okTokens := true
			forEachToken(val, func(t []byte) {
				switch {
				case asciiEqualFold(t, "close"):
					r.close = true
				case asciiEqualFold(t, "keep-alive"):
				default:
					okTokens = false
				}
			})
			if !okTokens {
				return false
			}
			continue
		case asciiEqualFold(name, "keep-alive"), asciiEqualFold(name, "proxy-connection"),
			asciiEqualFold(name, "te"), asciiEqualFold(name, "trailer"),
			asciiEqualFold(name, "proxy-authorization"), asciiEqualFold(name, "proxy-authenticate"),
			asciiEqualFold(name, "forwarded"):
			continue
		case asciiEqualFold(name, "x-forwarded-for"):
			r.xff = append(r.xff, val)
			continue
		case asciiEqualFold(name, "x-forwarded-proto"):
			r.xfp = val
			continue
		case asciiEqualFold(name, "x-forwarded-host"):
			r.xfh = val
			continue
		case asciiEqualFold(name, "via"):
			r.via = append(r.via, val)
			continue
		}
		r.fwd = append(r.fwd, line)
	}
	return r.host != nil
}

// validHost accepts a reg-name, IPv4 or bracketed IPv6 host with an
// optional port: a conservative subset of what net/http accepts.
func validHost(h []byte) bool {
	if len(h) == 0 || len(h) > 255 {
		return false
	}
	for _, c := range h {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '-', c == ':', c == '[', c == ']', c == '_':
		default:
			return false
		}
	}
	return true
}

// viaBytesHasNode is viaHasNode for raw header values.
func viaBytesHasNode(vias [][]byte, node string) bool {
	for _, v := range vias {
		if !bytes.Contains(v, []byte(node)) {
			continue
		}
		for entry := range bytes.SplitSeq(v, []byte(",")) {
			f := bytes.Fields(entry)
			if len(f) >= 2 && string(f[1]) == node {
				return true
			}
		}
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
