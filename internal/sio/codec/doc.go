// Package codec encodes and decodes Engine.IO v4 packets and payloads
// (eio.go) and Socket.IO v5 packets (sio.go). It is pure: no I/O, no
// goroutines, no global state. Decoders take untrusted bytes and return
// errors on malformed input; they never panic. Encoders append to a
// caller-supplied buffer so hot paths can reuse memory.
//
// Transports (HTTP long-polling, WebSocket), sessions and heartbeats live
// in package eio; namespaces, events and acks in package sio.
package codec
