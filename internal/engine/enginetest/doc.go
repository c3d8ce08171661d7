// Package enginetest is the conformance suite every engine (memory, and
// later NATS) must pass: Run(t, factory) exercises the contracts written in
// package engine's doc comments — atomic claims, idempotent re-joins,
// holder-only leaves, orphans and their grace expiry (under testing/synctest),
// room membership, broker ordering and unsubscription, and Close.
//
// New engine behaviour goes into this suite first (STYLE §7). The package
// owns no engine; it imports only engine and the standard library.
package enginetest
