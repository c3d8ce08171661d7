// Package control owns the /list channel: the Socket.IO namespace backends
// connect to in order to join the pool (`address`, `drain`), share their
// users (`join_subs`, `leave_subs`, `subs_exists`) and message each other's
// users (`message`, `join_room`, `leave_room`, `broadcast`). The protocol is
// specified in docs/PROTOCOL.md.
//
// It owns the mapping between channel sessions and pool members: a session
// that announces an address becomes a backend.Backend in the Registry and a
// router.Session in the Router; when the session ends, both go. It does not
// route messages (package router), keep presence (package engine) or proxy
// requests (package proxy).
//
// Locks: Channel.mu guards the address table; session.mu guards one
// session's registration. Order: Channel.mu before session.mu. Neither is
// held across I/O, a send or a router call.
package control
