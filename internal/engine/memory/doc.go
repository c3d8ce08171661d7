// Package memory is the single-node engine, Switchboard's default: Presence,
// Rooms and Broker held in this process's memory. It owns nothing beyond
// that state and the grace timers of orphaned names; it knows nothing of
// sessions, mailboxes or the wire (package router and package control do).
//
// Each type has one mutex guarding its maps (named in the field comments);
// no method holds it across a callback, so there is no lock order to keep.
// Presence's grace timers are created with an injectable AfterFunc and
// clock, so tests drive them under testing/synctest.
package memory
