package app

import (
	"reflect"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/config"
)

// TestRouterConfigWired: every presence option reaches the message router,
// each with a value of its own, so a field left unmapped shows as a zero.
func TestRouterConfigWired(t *testing.T) {
	cfg := config.Default()
	cfg.Proxy.NodeID = "node-7"
	cfg.Presence.Grace = 7 * time.Second
	cfg.Presence.MaxNameBytes = 77
	cfg.Presence.MailboxMessages = 7
	cfg.Presence.MailboxBytes = 7000
	cfg.Presence.MailboxTotalBytes = 70000
	cfg.Presence.MailboxTotalMessages = 700
	rc := routerConfig(cfg)
	v := reflect.ValueOf(rc)
	fixed := map[string]bool{"MaxRecipients": true} // the router's default (1024); not an option
	for i := range v.NumField() {
		if v.Field(i).IsZero() && !fixed[v.Type().Field(i).Name] {
			t.Errorf("router.Config.%s is not set from the configuration", v.Type().Field(i).Name)
		}
	}
	if rc.MailboxTotalMessages != 700 || rc.MailboxTotalBytes != 70000 || rc.MaxNameBytes != 77 || rc.Grace != 7*time.Second {
		t.Errorf("router config %+v", rc)
	}
}
