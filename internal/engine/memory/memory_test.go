package memory_test

import (
	"testing"

	"github.com/switchboard-lb/switchboard/internal/engine/enginetest"
	"github.com/switchboard-lb/switchboard/internal/engine/memory"
	"github.com/switchboard-lb/switchboard/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

func TestConformance(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, cfg enginetest.Config) enginetest.Engine {
		return enginetest.Engine{
			Presence: memory.NewPresence(memory.PresenceConfig{OnExpire: cfg.OnExpire}),
			Rooms:    memory.NewRooms(),
			Broker:   memory.NewBroker(),
		}
	})
}
