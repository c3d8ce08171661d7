package client

import (
	"testing"

	"github.com/switchboard-lb/switchboard/internal/app/apptest"
)

// inprocHub runs Switchboard in this process on a free loopback port; stop
// shuts it down and waits.
func inprocHub() (url string, stop func(), err error) { return apptest.Start() }

func inprocHubTB(tb testing.TB) string { return apptest.StartTB(tb) }
