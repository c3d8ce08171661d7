package codec

// Socket.IO protocol v5 packets (github socketio/socket.io-protocol):
//
//	<type>[<attachments>-][<nsp>,][<id>][<json payload>]
//
// The namespace "/" is omitted. A BINARY_EVENT or BINARY_ACK text packet
// carries placeholders {"_placeholder":true,"num":N} in its payload and is
// followed by N binary Engine.IO messages, its attachments.

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// SIOType is a Socket.IO packet type.
type SIOType uint8

// Socket.IO packet types.
const (
	SIOConnect      SIOType = 0
	SIODisconnect   SIOType = 1
	SIOEvent        SIOType = 2
	SIOAck          SIOType = 3
	SIOConnectError SIOType = 4
	SIOBinaryEvent  SIOType = 5
	SIOBinaryAck    SIOType = 6
)

// IsBinary reports whether t is followed by attachments.
func (t SIOType) IsBinary() bool { return t == SIOBinaryEvent || t == SIOBinaryAck }

func (t SIOType) String() string {
	switch t {
	case SIOConnect:
		return "CONNECT"
	case SIODisconnect:
		return "DISCONNECT"
	case SIOEvent:
		return "EVENT"
	case SIOAck:
		return "ACK"
	case SIOConnectError:
		return "CONNECT_ERROR"
	case SIOBinaryEvent:
		return "BINARY_EVENT"
	case SIOBinaryAck:
		return "BINARY_ACK"
	}
	return "SIOType(" + strconv.Itoa(int(t)) + ")"
}

// Limits of the text header.
const (
	// MaxNspLen bounds a namespace name in bytes.
	MaxNspLen = 256
	// MaxAckID is the largest packet id accepted (JavaScript's largest safe integer).
	MaxAckID = 1<<53 - 1
	// DefaultMaxAttachments bounds attachments per packet when a Reassembler's limit is zero.
	DefaultMaxAttachments = 10
	// DefaultMaxAttachmentBytes bounds the attachments' total size when a Reassembler's limit is zero.
	DefaultMaxAttachmentBytes = 1e6
)

// ErrSIOPacket is wrapped by every Socket.IO decoding error.
var ErrSIOPacket = errors.New("codec: invalid socket.io packet")

// ErrSIOTooLarge is wrapped when attachments exceed a Reassembler's limits.
var ErrSIOTooLarge = errors.New("codec: socket.io attachments over limit")

func sioErr(what string) error { return fmt.Errorf("%w: %s", ErrSIOPacket, what) }

// Preallocated errors of the hot path (no allocation on bad input).
var (
	errSIOEmpty       = sioErr("empty")
	errSIOType        = sioErr("bad type")
	errSIOAttachments = sioErr("bad attachment count")
	errSIONsp         = sioErr("bad namespace")
	errSIOID          = sioErr("bad id")
	errSIOPayload     = sioErr("bad payload")
	errSIOEventArray  = sioErr("event payload is not an array")
	errSIOEventName   = sioErr("event name is not a string")
	errSIOReserved    = sioErr("reserved event name")
	errSIOAckArray    = sioErr("ack payload is not an array")
	errSIONoID        = sioErr("ack without id")
	errSIOHasID       = sioErr("id not allowed on this packet type")
	errSIOUnexpBinary = sioErr("binary message outside a binary packet")
	errSIOUnexpText   = sioErr("text message while attachments are pending")
	errSIOTooMany     = fmt.Errorf("%w: too many attachments", ErrSIOTooLarge)
	errSIOTooBig      = fmt.Errorf("%w: attachments too large", ErrSIOTooLarge)
)

// SIOHeader is a parsed text packet whose payload is not yet validated.
// Nsp and Payload alias the input.
type SIOHeader struct {
	Type        SIOType
	Attachments int    // declared attachment count (binary types only)
	Nsp         []byte // empty means "/"
	ID          int64  // -1 when absent
	Payload     []byte // JSON text without surrounding whitespace; nil when absent
}

// NspString returns the namespace, "/" when omitted. It allocates unless the
// namespace is "/".
func (h *SIOHeader) NspString() string {
	if len(h.Nsp) == 0 {
		return "/"
	}
	return string(h.Nsp)
}

// ParseSIOHeader parses the header of a Socket.IO text packet: type,
// attachment count, namespace and id. It checks the payload only for
// presence rules (DISCONNECT has none; ACK needs an id), not its JSON; use
// CheckSIOPayload, SplitEvent or SplitArray for that.
func ParseSIOHeader(b []byte) (SIOHeader, error) {
	h := SIOHeader{ID: -1}
	if len(b) == 0 {
		return h, errSIOEmpty
	}
	if b[0] < '0' || b[0] > '6' {
		return h, errSIOType
	}
	h.Type = SIOType(b[0] - '0')
	i := 1
	if h.Type.IsBinary() {
		start := i
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			n = n*10 + int(b[i]-'0')
			i++
			if i-start > 6 {
				return h, errSIOAttachments
			}
		}
		if i == start || i >= len(b) || b[i] != '-' {
			return h, errSIOAttachments
		}
		i++
		h.Attachments = n
	}
	if i < len(b) && b[i] == '/' {
		start := i
		for i < len(b) && b[i] != ',' {
			c := b[i]
			if c < 0x20 || c == 0x7f {
				return h, errSIONsp
			}
			i++
		}
		if i-start > MaxNspLen {
			return h, errSIONsp
		}
		if i-start > 1 { // "/" itself is the default
			h.Nsp = b[start:i]
		}
		if i < len(b) {
			i++ // the comma
		}
	}
	if i < len(b) && b[i] >= '0' && b[i] <= '9' {
		start := i
		var id int64
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if i-start >= 16 {
				return h, errSIOID
			}
			id = id*10 + int64(b[i]-'0')
			i++
		}
		if id > MaxAckID {
			return h, errSIOID
		}
		h.ID = id
	}
	if i < len(b) {
		j := len(b)
		for j > i && jsonIsWS(b[j-1]) {
			j--
		}
		i = jsonSkipWS(b, i)
		if i >= j {
			return h, errSIOPayload // whitespace only: JSON.parse would throw
		}
		h.Payload = b[i:j]
	}
	switch h.Type {
	case SIODisconnect:
		if h.Payload != nil {
			return h, errSIOPayload
		}
		fallthrough
	case SIOConnect, SIOConnectError:
		if h.ID >= 0 {
			return h, errSIOHasID
		}
	case SIOAck, SIOBinaryAck:
		if h.ID < 0 {
			return h, errSIONoID
		}
	}
	return h, nil
}

// CheckSIOPayload validates h.Payload for h.Type: CONNECT takes an object or
// nothing, CONNECT_ERROR an object, a string or nothing, DISCONNECT nothing,
// an event an array starting with a non-reserved string name, an ack an
// array. In a binary type every placeholder must index one of
// h.Attachments attachments (see Reassembler.Feed).
func CheckSIOPayload(h *SIOHeader) error {
	if err := checkBinaryPayload(h); err != nil {
		return err
	}
	p := h.Payload
	switch h.Type {
	case SIOConnect:
		if p != nil && (p[0] != '{' || !ValidJSON(p)) {
			return errSIOPayload
		}
	case SIOConnectError:
		if p != nil && ((p[0] != '{' && p[0] != '"') || !ValidJSON(p)) {
			return errSIOPayload
		}
	case SIODisconnect:
		if p != nil {
			return errSIOPayload
		}
	case SIOEvent, SIOBinaryEvent:
		_, _, err := splitEvent(p, nil, false)
		return err
	case SIOAck, SIOBinaryAck:
		_, err := splitArray(p, nil, false)
		return err
	}
	return nil
}

// reserved event names (the npm parser refuses them as event names).
func sioReserved(name []byte) bool {
	switch string(name) {
	case "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener":
		return true
	}
	return false
}

// SplitEvent validates an event payload (a JSON array whose first element is
// the event name, a string) and returns the name (unescaped) and the other
// elements appended to args, each a subslice of p. The name aliases p unless
// it contains escapes. It allocates at most the returned args slice (sized
// exactly when args is nil and there are at most 8 arguments).
func SplitEvent(p []byte, args []json.RawMessage) (name []byte, out []json.RawMessage, err error) {
	return splitEvent(p, args, true)
}

func splitEvent(p []byte, args []json.RawMessage, keep bool) ([]byte, []json.RawMessage, error) {
	i := jsonSkipWS(p, 0)
	if i >= len(p) || p[i] != '[' {
		return nil, args, errSIOEventArray
	}
	i = jsonSkipWS(p, i+1)
	if i >= len(p) || p[i] != '"' {
		return nil, args, errSIOEventName
	}
	end, escaped, err := jsonSkipString(p, i)
	if err != nil {
		return nil, args, errSIOEventArray
	}
	name := p[i+1 : end-1]
	if escaped {
		var s string
		if json.Unmarshal(p[i:end], &s) != nil {
			return nil, args, errSIOEventArray
		}
		name = []byte(s)
	}
	if sioReserved(name) {
		return nil, args, errSIOReserved
	}
	args, err = splitRest(p, end, args, keep)
	return name, args, err
}

// SplitArray validates a JSON array (an ack payload) and appends its
// elements to args as subslices of p.
func SplitArray(p []byte, args []json.RawMessage) ([]json.RawMessage, error) {
	return splitArray(p, args, true)
}

func splitArray(p []byte, args []json.RawMessage, keep bool) ([]json.RawMessage, error) {
	i := jsonSkipWS(p, 0)
	if i >= len(p) || p[i] != '[' {
		return args, errSIOAckArray
	}
	i = jsonSkipWS(p, i+1)
	if i < len(p) && p[i] == ']' {
		if jsonSkipWS(p, i+1) != len(p) {
			return args, errSIOAckArray
		}
		return args, nil
	}
	// Treat the first element like the name slot of an event: parse it,
	// then continue with the shared loop.
	end, err := jsonSkipValue(p, i, 1)
	if err != nil {
		return args, errSIOAckArray
	}
	var buf [8]json.RawMessage
	tmp := buf[:0]
	if keep {
		tmp = append(tmp, p[i:end])
	}
	tmp, err = splitLoop(p, end, tmp, keep)
	if err != nil {
		return args, errSIOAckArray
	}
	return appendArgs(args, tmp, keep), nil
}

// splitRest continues after the element ending at i (inside the top-level
// array) up to the closing bracket and the end of p.
func splitRest(p []byte, i int, args []json.RawMessage, keep bool) ([]json.RawMessage, error) {
	var buf [8]json.RawMessage
	tmp, err := splitLoop(p, i, buf[:0], keep)
	if err != nil {
		return args, errSIOEventArray
	}
	return appendArgs(args, tmp, keep), nil
}

func appendArgs(args, tmp []json.RawMessage, keep bool) []json.RawMessage {
	if !keep || len(tmp) == 0 {
		return args
	}
	if args == nil {
		args = make([]json.RawMessage, 0, len(tmp))
	}
	return append(args, tmp...)
}

func splitLoop(p []byte, i int, tmp []json.RawMessage, keep bool) ([]json.RawMessage, error) {
	for {
		i = jsonSkipWS(p, i)
		if i >= len(p) {
			return tmp, errJSON
		}
		switch p[i] {
		case ']':
			if jsonSkipWS(p, i+1) != len(p) {
				return tmp, errJSON
			}
			return tmp, nil
		case ',':
		default:
			return tmp, errJSON
		}
		i = jsonSkipWS(p, i+1)
		end, err := jsonSkipValue(p, i, 1)
		if err != nil {
			return tmp, err
		}
		if keep {
			tmp = append(tmp, p[i:end])
		}
		i = end
	}
}

// SIOPacket is a complete Socket.IO packet, attachments included.
type SIOPacket struct {
	Type        SIOType
	Nsp         string          // "/" when omitted on the wire
	ID          int64           // -1 when absent
	Data        json.RawMessage // payload JSON without surrounding whitespace; nil when absent
	Attachments [][]byte        // binary types only; len is the wire count
}

// DecodeSIOPacket decodes and validates one text packet. For binary types
// the attachments are not part of the text: Attachments is nil and the
// declared count is returned as n.
func DecodeSIOPacket(b []byte) (p SIOPacket, n int, err error) {
	h, err := ParseSIOHeader(b)
	if err != nil {
		return SIOPacket{ID: -1}, 0, err
	}
	if err := CheckSIOPayload(&h); err != nil {
		return SIOPacket{ID: -1}, 0, err
	}
	return SIOPacket{Type: h.Type, Nsp: h.NspString(), ID: h.ID, Data: h.Payload}, h.Attachments, nil
}

// AppendSIOPacket appends the text part of p (its attachments, for binary
// types, are sent as separate binary messages after it). It refuses packets
// the decoder would refuse.
func AppendSIOPacket(dst []byte, p SIOPacket) ([]byte, error) {
	if p.Type > SIOBinaryAck {
		return dst, errSIOType
	}
	if !p.Type.IsBinary() && len(p.Attachments) > 0 {
		return dst, errSIOAttachments
	}
	if err := checkNsp(p.Nsp); err != nil {
		return dst, err
	}
	h := SIOHeader{Type: p.Type, Attachments: len(p.Attachments), ID: p.ID, Payload: p.Data}
	if h.ID < -1 || h.ID > MaxAckID {
		return dst, errSIOID
	}
	if len(h.Payload) == 0 {
		h.Payload = nil
	} else if jsonIsWS(h.Payload[0]) || jsonIsWS(h.Payload[len(h.Payload)-1]) {
		return dst, errSIOPayload
	}
	if err := CheckSIOPayload(&h); err != nil {
		return dst, err
	}
	switch p.Type {
	case SIOConnect, SIOConnectError, SIODisconnect:
		if p.ID >= 0 {
			return dst, errSIOHasID
		}
	case SIOAck, SIOBinaryAck:
		if p.ID < 0 {
			return dst, errSIONoID
		}
	}
	dst = appendHeader(dst, p.Type, len(p.Attachments), p.Nsp, p.ID, h.Payload != nil)
	return append(dst, h.Payload...), nil
}

func checkNsp(nsp string) error {
	if nsp == "" || nsp == "/" {
		return nil
	}
	if nsp[0] != '/' || len(nsp) > MaxNspLen {
		return errSIONsp
	}
	for i := 0; i < len(nsp); i++ {
		if c := nsp[i]; c < 0x20 || c == 0x7f || c == ',' {
			return errSIONsp
		}
	}
	return nil
}

// appendHeader writes type, attachments, namespace and id. The comma after
// a namespace is written whenever something follows or the packet would
// otherwise end in the namespace (the npm encoder always writes it).
func appendHeader(dst []byte, t SIOType, attachments int, nsp string, id int64, payload bool) []byte {
	dst = append(dst, '0'+byte(t))
	if t.IsBinary() {
		dst = strconv.AppendInt(dst, int64(attachments), 10)
		dst = append(dst, '-')
	}
	if nsp != "" && nsp != "/" {
		dst = append(dst, nsp...)
		dst = append(dst, ',')
	}
	if id >= 0 {
		dst = strconv.AppendInt(dst, id, 10)
	}
	return dst
}

// AppendEvent appends an EVENT packet (BINARY_EVENT when attachments > 0)
// for namespace nsp, with ack id (or -1), the event name and args, each
// of which must be valid JSON.
func AppendEvent(dst []byte, nsp string, id int64, event string, args []json.RawMessage, attachments int) ([]byte, error) {
	if err := checkArgs(args); err != nil {
		return dst, err
	}
	return AppendEventNoCheck(dst, nsp, id, event, args, attachments)
}

// AppendEventNoCheck is AppendEvent for args the caller built as valid
// JSON from parts it had validated: they are not scanned again. An
// invalid one makes the peer drop the connection.
func AppendEventNoCheck(dst []byte, nsp string, id int64, event string, args []json.RawMessage, attachments int) ([]byte, error) {
	if err := checkEventName(event); err != nil {
		return dst, err
	}
	t := SIOEvent
	if attachments > 0 {
		t = SIOBinaryEvent
	}
	dst = appendHeader(dst, t, attachments, nsp, id, true)
	dst = append(dst, '[')
	dst = jsonAppendString(dst, event)
	for _, a := range args {
		dst = append(dst, ',')
		dst = append(dst, a...)
	}
	return append(dst, ']'), nil
}

// AppendAck appends an ACK packet (BINARY_ACK when attachments > 0).
func AppendAck(dst []byte, nsp string, id int64, args []json.RawMessage, attachments int) ([]byte, error) {
	if err := checkArgs(args); err != nil {
		return dst, err
	}
	return AppendAckNoCheck(dst, nsp, id, args, attachments)
}

// AppendAckNoCheck is AppendAck for args the caller built as valid JSON
// (see AppendEventNoCheck).
func AppendAckNoCheck(dst []byte, nsp string, id int64, args []json.RawMessage, attachments int) ([]byte, error) {
	if id < 0 || id > MaxAckID {
		return dst, errSIONoID
	}
	t := SIOAck
	if attachments > 0 {
		t = SIOBinaryAck
	}
	dst = appendHeader(dst, t, attachments, nsp, id, true)
	dst = append(dst, '[')
	for i, a := range args {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, a...)
	}
	return append(dst, ']'), nil
}

// AppendConnect appends a CONNECT packet; data (an object, or nil) is the
// client's auth or the server's {"sid":...} reply.
func AppendConnect(dst []byte, nsp string, data json.RawMessage) []byte {
	dst = appendHeader(dst, SIOConnect, 0, nsp, -1, len(data) > 0)
	return append(dst, data...)
}

// AppendConnectError appends CONNECT_ERROR {"message":msg[,"data":data]}.
func AppendConnectError(dst []byte, nsp, msg string, data json.RawMessage) []byte {
	dst = appendHeader(dst, SIOConnectError, 0, nsp, -1, true)
	dst = append(dst, `{"message":`...)
	dst = jsonAppendString(dst, msg)
	if len(data) > 0 && ValidJSON(data) {
		dst = append(dst, `,"data":`...)
		dst = append(dst, data...)
	}
	return append(dst, '}')
}

// AppendDisconnect appends a DISCONNECT packet.
func AppendDisconnect(dst []byte, nsp string) []byte {
	return appendHeader(dst, SIODisconnect, 0, nsp, -1, false)
}

// AppendPlaceholder appends the placeholder for attachment n.
func AppendPlaceholder(dst []byte, n int) []byte {
	dst = append(dst, `{"_placeholder":true,"num":`...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '}')
}

// AppendJSONString appends s as a JSON string (HTML-safe escaping, invalid
// UTF-8 replaced).
func AppendJSONString(dst []byte, s string) []byte { return jsonAppendString(dst, s) }

// AppendJSONStrings appends ss as a JSON array of strings ([] for none),
// each as AppendJSONString writes it.
func AppendJSONStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonAppendString(dst, s)
	}
	return append(dst, ']')
}

var (
	errSIOArg = sioErr("argument is not valid JSON")
)

func checkEventName(event string) error {
	if sioReserved([]byte(event)) {
		return errSIOReserved
	}
	return nil
}

func checkArgs(args []json.RawMessage) error {
	for _, a := range args {
		if len(a) == 0 || jsonIsWS(a[0]) {
			return errSIOArg
		}
		end, err := jsonSkipValue(a, 0, 0)
		if err != nil || end != len(a) {
			return errSIOArg
		}
	}
	return nil
}

// Reassembler turns a sequence of Engine.IO messages into Socket.IO
// packets: a text message is a packet header, and a binary type waits for
// its attachments (the following binary messages). The zero value uses the
// default limits. Not safe for concurrent use.
type Reassembler struct {
	// MaxAttachments bounds the attachments of one packet (default 10, as npm's socket.io-parser).
	MaxAttachments int
	// MaxBytes bounds their total size (default 1e6).
	MaxBytes int64

	pending bool
	h       SIOHeader
	atts    [][]byte
	size    int64
}

// Feed takes one Engine.IO message. When it completes a packet, done is
// true and h (aliasing the text message) and atts (the retained binary
// messages) describe it. The payload of a binary type has had its
// placeholders checked: each must index one of the attachments, or npm
// receivers of the packet would throw "illegal attachments" and drop their
// connection. The rest of the payload is not validated (see
// CheckSIOPayload). Any error leaves the Reassembler reset; the connection
// should be closed (Socket.IO: an invalid packet is a parse error).
func (r *Reassembler) Feed(data []byte, binary bool) (h SIOHeader, atts [][]byte, done bool, err error) {
	if r.pending {
		if !binary {
			r.Reset()
			return h, nil, false, errSIOUnexpText
		}
		r.size += int64(len(data))
		if r.size > r.maxBytes() {
			r.Reset()
			return h, nil, false, errSIOTooBig
		}
		r.atts = append(r.atts, data)
		if len(r.atts) < r.h.Attachments {
			return h, nil, false, nil
		}
		h, atts = r.h, r.atts
		r.pending, r.h, r.atts, r.size = false, SIOHeader{}, nil, 0
		if err := checkBinaryPayload(&h); err != nil {
			return SIOHeader{}, nil, false, err
		}
		return h, atts, true, nil
	}
	if binary {
		return h, nil, false, errSIOUnexpBinary
	}
	h, err = ParseSIOHeader(data)
	if err != nil {
		return h, nil, false, err
	}
	if h.Attachments == 0 {
		if err := checkBinaryPayload(&h); err != nil {
			return SIOHeader{}, nil, false, err
		}
		return h, nil, true, nil
	}
	if h.Attachments > r.maxAttachments() {
		return h, nil, false, errSIOTooMany
	}
	r.pending, r.h = true, h
	r.atts = make([][]byte, 0, h.Attachments)
	return SIOHeader{}, nil, false, nil
}

// checkBinaryPayload checks the placeholders of a complete binary packet
// (a no-op for other types).
func checkBinaryPayload(h *SIOHeader) error {
	if !h.Type.IsBinary() || h.Payload == nil {
		return nil
	}
	return checkPlaceholders(h.Payload, h.Attachments)
}

// Pending reports whether attachments are awaited.
func (r *Reassembler) Pending() bool { return r.pending }

// Reset drops a partial packet.
func (r *Reassembler) Reset() { r.pending, r.h, r.atts, r.size = false, SIOHeader{}, nil, 0 }

func (r *Reassembler) maxAttachments() int {
	if r.MaxAttachments > 0 {
		return r.MaxAttachments
	}
	return DefaultMaxAttachments
}

func (r *Reassembler) maxBytes() int64 {
	if r.MaxBytes > 0 {
		return r.MaxBytes
	}
	return DefaultMaxAttachmentBytes
}

// Placeholders. socket.io-parser's reconstructPacket replaces every object
// whose "_placeholder" member is true by attachment "num", and throws
// "illegal attachments" unless num is a number in [0, attachments): the
// decoder, and with it the receiver's connection, fails. A relay must
// therefore never accept a binary packet that one of its npm receivers
// would refuse.

// errSIOPlaceholder is returned for a binary packet with a bad placeholder.
var errSIOPlaceholder = sioErr("illegal attachments: placeholder without a valid num")

// checkPlaceholders checks every placeholder in p, the JSON payload of a
// binary packet with n attachments: each object whose "_placeholder" member
// is true (the last one, when repeated, as JSON.parse keeps it) must have a
// "num" member (the last one) that is an integer literal in [0, n). It is
// stricter than npm in two ways no encoder meets: num must be written as a
// plain integer (not 1.0, 1e0 or -0), and values it would not look at
// (inside a placeholder, or overwritten by a repeated key) are checked too.
// p must be a JSON value (anything else is errSIOPayload).
func checkPlaceholders(p []byte, n int) error {
	i := jsonSkipWS(p, 0)
	end, err := placeholderWalk(p, i, n, 0)
	if err != nil {
		return err
	}
	if jsonSkipWS(p, end) != len(p) {
		return errSIOPayload
	}
	return nil
}

// placeholderWalk validates the value at b[i] (no leading whitespace),
// checking the placeholders in it, and returns the index past it.
func placeholderWalk(b []byte, i, n, depth int) (int, error) {
	if i >= len(b) {
		return 0, errSIOPayload
	}
	switch b[i] {
	case '{':
		return placeholderObject(b, i, n, depth+1)
	case '[':
		if depth+1 > jsonMaxDepth {
			return 0, errSIOPayload
		}
		return jsonWalkArray(b, i, errSIOPayload, func(i int) (int, error) { return placeholderWalk(b, i, n, depth+1) })
	}
	end, err := jsonSkipValue(b, i, depth)
	if err != nil {
		return 0, errSIOPayload
	}
	return end, nil
}

// placeholderObject is placeholderWalk for the object at b[i] == '{'.
func placeholderObject(b []byte, i, n, depth int) (int, error) {
	if depth > jsonMaxDepth {
		return 0, errSIOPayload
	}
	isPlaceholder := false
	num := []byte(nil) // the last "num" member's value
	i = jsonSkipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, errSIOPayload
		}
		kend, escaped, err := jsonSkipString(b, i)
		if err != nil {
			return 0, errSIOPayload
		}
		key := b[i+1 : kend-1]
		if escaped {
			// JSON.parse compares unescaped keys ("\u005fplaceholder").
			var k string
			if json.Unmarshal(b[i:kend], &k) != nil {
				return 0, errSIOPayload
			}
			key = []byte(k)
		}
		i = jsonSkipWS(b, kend)
		if i >= len(b) || b[i] != ':' {
			return 0, errSIOPayload
		}
		i = jsonSkipWS(b, i+1)
		vend, err := placeholderWalk(b, i, n, depth)
		if err != nil {
			return 0, err
		}
		switch string(key) {
		case "_placeholder":
			isPlaceholder = string(b[i:vend]) == "true"
		case "num":
			num = b[i:vend]
		}
		i = jsonSkipWS(b, vend)
		if i >= len(b) {
			return 0, errSIOPayload
		}
		switch b[i] {
		case '}':
			if isPlaceholder && !placeholderIndexOK(num, n) {
				return 0, errSIOPlaceholder
			}
			return i + 1, nil
		case ',':
			i = jsonSkipWS(b, i+1)
		default:
			return 0, errSIOPayload
		}
	}
}

// placeholderIndexOK reports whether num is a plain integer literal
// ("0", "17"; no sign, fraction or exponent) below n.
func placeholderIndexOK(num []byte, n int) bool {
	if len(num) == 0 || len(num) > 7 || (num[0] == '0' && len(num) > 1) {
		return false
	}
	v := 0
	for _, c := range num {
		if c < '0' || c > '9' {
			return false
		}
		v = v*10 + int(c-'0')
	}
	return v < n
}
