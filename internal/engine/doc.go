// Package engine defines the seams between Switchboard's message hub and
// the state it shares across nodes: who holds which name (Presence), which
// backend sessions joined which room (Rooms), and how messages travel
// between nodes (Broker), together with the shared types (Holder, Message)
// and the errors, each carrying a stable upper-case code for the /list
// channel's {ok:false, code, message} convention (issue 3, issue 4).
//
// The package owns only contracts: interfaces whose doc comments are the
// specification, the shared value types and the error sentinels. It does
// not own an implementation (see engine/memory, and later a NATS engine),
// routing decisions (package router) or the wire format (package control).
// Every implementation must pass the conformance suite in engine/enginetest.
//
// Identifiers: a backend ID names one backend session (a /list connection);
// when that session ends and a new one starts, the new one has a new ID.
// A name is a user name claimed with join_subs; names are opaque strings
// here, validated by the router before they reach an engine.
package engine
