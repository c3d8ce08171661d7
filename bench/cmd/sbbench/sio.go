package main

import (
	"context"
	"errors"
	"flag"
)

type sioScenario struct{}

func (s *sioScenario) Name() string           { return "sio" }
func (s *sioScenario) Summary() string        { return "issue 2: our Socket.IO server vs socket.io@4.8.4" }
func (s *sioScenario) Flags(fs *flag.FlagSet) {}
func (s *sioScenario) Run(ctx context.Context, env *Env) (*Report, error) {
	return nil, errors.New("todo")
}
func cmdSIOServer(args []string) error { return errors.New("todo") }
func cmdSIOLoad(args []string) error   { return errors.New("todo") }
func cmdSIOHold(args []string) error   { return errors.New("todo") }

type messagingScenario struct{}

func (s *messagingScenario) Name() string           { return "messaging" }
func (s *messagingScenario) Summary() string        { return "issue 4: not yet implemented" }
func (s *messagingScenario) Flags(fs *flag.FlagSet) {}
func (s *messagingScenario) Run(ctx context.Context, env *Env) (*Report, error) {
	return nil, errors.New("todo")
}
