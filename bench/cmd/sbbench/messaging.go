package main

import (
	"context"
	"errors"
	"flag"
)

// messagingScenario is the extension point for issue 4 (300 users on three
// backends; direct and public messages at paced rates, zero loss, p99 ≤ 10
// ms; against three socket.io servers with @socket.io/redis-adapter and a
// local redis-server) and, with Go backends on the SDK, issue 6 (`sdk`).
// It is registered so that `sbbench list` shows it; Run reports that it is
// not written yet. See bench/README.md, "Adding a scenario".
type messagingScenario struct{}

func (s *messagingScenario) Name() string { return "messaging" }
func (s *messagingScenario) Summary() string {
	return "issue 4: paced direct/public messages across 3 backends vs socket.io + redis-adapter (not written yet)"
}
func (s *messagingScenario) Flags(fs *flag.FlagSet) {}
func (s *messagingScenario) Run(ctx context.Context, env *Env) (*Report, error) {
	return nil, errors.New("messaging: not implemented yet (issue 4)")
}
