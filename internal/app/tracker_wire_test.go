package app

import (
	"slices"
	"testing"

	"github.com/switchboard-lb/switchboard/internal/config"
)

// TestTrackerConfigWired: every tracker option reaches the tracker, each
// with a value of its own (a field left unmapped shows as a zero or a
// default).
func TestTrackerConfigWired(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Tracker.Path = "/where"
	cfg.Tracker.AllowedOrigins = []string{"https://a.example"}
	cfg.Tracker.ShowInternal = true
	cfg.Tracker.MaxClients = 7
	cfg.Tracker.RatePerSecond = 1.5
	cfg.Tracker.Burst = 8
	cfg.Tracker.EventRatePerSecond = 0.25
	cfg.Tracker.EventBurst = 3
	cfg.Proxy.TrustedProxies = []string{"10.0.0.0/8"}
	tc := trackerConfig(cfg)
	if tc.Path != "/where" || !slices.Equal(tc.AllowedOrigins, cfg.Tracker.AllowedOrigins) || !tc.ShowInternal ||
		tc.MaxClients != 7 || tc.RatePerSecond != 1.5 || tc.Burst != 8 || tc.EventRate != 0.25 || tc.EventBurst != 3 ||
		!slices.Equal(tc.TrustedProxies, cfg.Proxy.TrustedProxies) {
		t.Fatalf("tracker config %+v from %+v", tc, cfg.Tracker)
	}
}
