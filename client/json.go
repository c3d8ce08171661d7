package client

import "github.com/switchboard-lb/switchboard/internal/sio/codec"

// AppendJSONString appends s to dst as a JSON string, escaped as
// encoding/json escapes it (HTML-safe, invalid UTF-8 replaced by U+FFFD),
// without allocating. With AppendJSONStrings it lets a backend that relays
// messages build the JSON it sends by hand, as the SDK itself does.
func AppendJSONString(dst []byte, s string) []byte { return codec.AppendJSONString(dst, s) }

// AppendJSONStrings appends ss to dst as a JSON array of strings ([] for
// none), each as AppendJSONString writes it.
func AppendJSONStrings(dst []byte, ss []string) []byte { return codec.AppendJSONStrings(dst, ss) }
