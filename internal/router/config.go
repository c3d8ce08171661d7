package router

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Config tunes a Router. Zero fields take their defaults (see each field).
type Config struct {
	// NodeID prefixes message IDs so they are unique across nodes and
	// restarts (default: 8 random hex digits).
	NodeID string
	// Grace is how long the names of an ended session stay orphaned, their
	// messages kept in mailboxes (default 30s).
	Grace time.Duration
	// MaxNameBytes bounds a user or room name (default 128).
	MaxNameBytes int64
	// MaxRecipients bounds the names in one message's `to` (default 1024).
	MaxRecipients int
	// MailboxMessages bounds the messages kept per orphaned name (default 100).
	MailboxMessages int
	// MailboxBytes bounds the payload bytes kept per orphaned name (default 64 KiB).
	MailboxBytes int64
	// MailboxTotalBytes bounds the payload bytes kept in all mailboxes
	// (default 64 MiB).
	MailboxTotalBytes int64
	// MailboxTotalMessages bounds the messages kept in all mailboxes
	// (default 200,000). Each costs about 300 bytes beyond its payload,
	// which the byte bounds do not count, so this bounds a flood of tiny
	// messages.
	MailboxTotalMessages int
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.NodeID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
		c.NodeID = hex.EncodeToString(b[:])
	}
	if c.Grace == 0 {
		c.Grace = 30 * time.Second
	}
	if c.MaxNameBytes == 0 {
		c.MaxNameBytes = 128
	}
	if c.MaxRecipients == 0 {
		c.MaxRecipients = 1024
	}
	if c.MailboxMessages == 0 {
		c.MailboxMessages = 100
	}
	if c.MailboxBytes == 0 {
		c.MailboxBytes = 64 << 10
	}
	if c.MailboxTotalBytes == 0 {
		c.MailboxTotalBytes = 64 << 20
	}
	if c.MailboxTotalMessages == 0 {
		c.MailboxTotalMessages = 200_000
	}
	return c
}
