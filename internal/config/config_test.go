package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite docs/CONFIG.md from the field table")

// env returns a getenv over m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultIsValid(t *testing.T) {
	t.Parallel()
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	if c.Listen.IP != "127.0.0.1" || c.Listen.Port != 8080 || c.Admin.Addr != "127.0.0.1:9090" ||
		c.Control.Path != "/list" || c.Control.Namespace != "/list" || c.Proxy.DialTimeout != 2*time.Second ||
		c.Presence.MailboxBytes != 64<<10 || c.Shutdown.Timeout != 15*time.Second {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if c.Proxy.NodeID == "" || !strings.HasSuffix(c.Proxy.NodeID, "-8080") {
		t.Fatalf("NodeID = %q, want hostname-8080", c.Proxy.NodeID)
	}
}

// TestTableCoversEveryField guards --help, the environment and the docs:
// every leaf field of Config must have exactly one option, with unique
// flag and environment names.
func TestTableCoversEveryField(t *testing.T) {
	t.Parallel()
	var c Config
	keys := yamlKeys(&c)
	count := map[uintptr]int{}
	flags, envs := map[string]bool{"config": true, "help": true, "h": true}, map[string]bool{EnvConfig: true}
	for _, o := range options() {
		p := reflect.ValueOf(o.field(&c)).Pointer()
		count[p]++
		if flags[o.flag] {
			t.Errorf("flag --%s used twice", o.flag)
		}
		if envs[o.env] {
			t.Errorf("env %s used twice", o.env)
		}
		flags[o.flag], envs[o.env] = true, true
		if o.help == "" || !strings.HasSuffix(o.help, ".") {
			t.Errorf("%s: help must be one sentence ending in a period", o.key)
		}
	}
	for p, key := range keys {
		if count[p] != 1 {
			t.Errorf("field %s has %d options, want 1", key, count[p])
		}
	}
}

func TestLoadPrecedence(t *testing.T) {
	t.Parallel()
	file := writeFile(t, `
listen:
  ip: 127.0.0.2
  port: 7000
proxy:
  backends: [http://127.0.0.1:3001]
  dial_timeout: 3s
control:
  token: from-file
log:
  level: debug
`)
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			if !reflect.DeepEqual(c, Default()) {
				t.Errorf("got %+v, want Default()", c)
			}
		}},
		{name: "file", args: []string{"--config", file}, check: func(t *testing.T, c Config) {
			if c.Listen.IP != "127.0.0.2" || c.Listen.Port != 7000 || c.Proxy.DialTimeout != 3*time.Second ||
				c.Control.Token != "from-file" || c.Log.Level != "debug" || !slices.Equal(c.Proxy.Backends, []string{"http://127.0.0.1:3001"}) {
				t.Errorf("file not applied: %+v", c)
			}
			if c.Proxy.ResponseHeaderTimeout != 30*time.Second {
				t.Errorf("absent key lost its default: %s", c.Proxy.ResponseHeaderTimeout)
			}
		}},
		{name: "file from env", env: map[string]string{EnvConfig: file}, check: func(t *testing.T, c Config) {
			if c.Listen.Port != 7000 {
				t.Errorf("port = %d, want 7000 from SWITCHBOARD_CONFIG", c.Listen.Port)
			}
		}},
		{name: "legacy env over file", args: []string{"--config", file}, env: map[string]string{"IP": "127.0.0.3", "PORT": "7001"},
			check: func(t *testing.T, c Config) {
				if c.Listen.IP != "127.0.0.3" || c.Listen.Port != 7001 {
					t.Errorf("listen = %s:%d", c.Listen.IP, c.Listen.Port)
				}
			}},
		{name: "prefixed env over legacy env", args: []string{"--config", file},
			env: map[string]string{"PORT": "7001", "SWITCHBOARD_PORT": "7002", "SWITCHBOARD_CONTROL_TOKEN": "from-env",
				"SWITCHBOARD_BACKENDS": "http://127.0.0.1:3002, http://127.0.0.1:3003", "SWITCHBOARD_PRESENCE_MAILBOX_BYTES": "1MiB"},
			check: func(t *testing.T, c Config) {
				if c.Listen.Port != 7002 || c.Control.Token != "from-env" || c.Presence.MailboxBytes != 1<<20 {
					t.Errorf("env not applied: %+v", c)
				}
				if !slices.Equal(c.Proxy.Backends, []string{"http://127.0.0.1:3002", "http://127.0.0.1:3003"}) {
					t.Errorf("backends = %q", c.Proxy.Backends)
				}
			}},
		{name: "flags over env", args: []string{"--config", file, "--port", "7003", "--token=from-flag",
			"--backend", "http://127.0.0.1:3004", "--backend=http://127.0.0.1:3005,http://127.0.0.1:3006",
			"--tracker-only=false", "--log-format", "json", "--admin", "127.0.0.1:0", "--shutdown-drain-delay", "10ms"},
			env: map[string]string{"SWITCHBOARD_PORT": "7002", "SWITCHBOARD_CONTROL_TOKEN": "from-env", "SWITCHBOARD_BACKENDS": "http://127.0.0.1:3002"},
			check: func(t *testing.T, c Config) {
				if c.Listen.Port != 7003 || c.Control.Token != "from-flag" || c.Log.Format != "json" ||
					c.Admin.Addr != "127.0.0.1:0" || c.Shutdown.DrainDelay != 10*time.Millisecond {
					t.Errorf("flags not applied: %+v", c)
				}
				if want := []string{"http://127.0.0.1:3004", "http://127.0.0.1:3005", "http://127.0.0.1:3006"}; !slices.Equal(c.Proxy.Backends, want) {
					t.Errorf("backends = %q, want %q", c.Proxy.Backends, want)
				}
			}},
		{name: "nice from env, then flag", args: []string{"--nice", "-5"}, env: map[string]string{"SWITCHBOARD_NICE": "3"},
			check: func(t *testing.T, c Config) {
				if c.Process.Nice != -5 {
					t.Errorf("nice = %d, want -5 from the flag", c.Process.Nice)
				}
			}},
		{name: "tracker event limit", args: []string{"--tracker-event-rate-per-second", "0.5"}, env: map[string]string{"SWITCHBOARD_TRACKER_EVENT_BURST": "3"},
			check: func(t *testing.T, c Config) {
				if c.Tracker.EventRatePerSecond != 0.5 || c.Tracker.EventBurst != 3 {
					t.Errorf("tracker event limit %v/%d", c.Tracker.EventRatePerSecond, c.Tracker.EventBurst)
				}
			}},
		{name: "tracker event limit defaults", check: func(t *testing.T, c Config) {
			if c.Tracker.EventRatePerSecond != 5 || c.Tracker.EventBurst != 20 {
				t.Errorf("tracker event limit %v/%d, want 5/20", c.Tracker.EventRatePerSecond, c.Tracker.EventBurst)
			}
		}},
		{name: "bool flag", args: []string{"--tracker-only", "--control-allow-remote"}, check: func(t *testing.T, c Config) {
			if !c.Proxy.TrackerOnly || !c.Control.AllowRemote {
				t.Errorf("bools not set: %+v", c.Proxy)
			}
		}},
		{name: "port zero means any port", args: []string{"--port", "0"}, check: func(t *testing.T, c Config) {
			if c.Listen.Port != 0 {
				t.Errorf("port = %d, want 0", c.Listen.Port)
			}
			if strings.HasSuffix(c.Proxy.NodeID, "-8080") || c.Proxy.NodeID == "" {
				t.Errorf("node id %q not derived from the final port", c.Proxy.NodeID)
			}
		}},
		{name: "node id follows port", args: []string{"--port", "7010"}, check: func(t *testing.T, c Config) {
			if !strings.HasSuffix(c.Proxy.NodeID, "-7010") {
				t.Errorf("node id = %q, want hostname-7010", c.Proxy.NodeID)
			}
		}},
		{name: "node id explicit", args: []string{"--proxy-node-id", "edge-1"}, check: func(t *testing.T, c Config) {
			if c.Proxy.NodeID != "edge-1" {
				t.Errorf("node id = %q", c.Proxy.NodeID)
			}
		}},
		{name: "zero duration means default", args: []string{"--proxy-dial-timeout", "0s"}, check: func(t *testing.T, c Config) {
			if c.Proxy.DialTimeout != 2*time.Second {
				t.Errorf("dial timeout = %s", c.Proxy.DialTimeout)
			}
		}},
		{name: "read coalescing defaults on, and zero turns it off", args: []string{"--control-read-coalesce", "0"},
			check: func(t *testing.T, c Config) {
				if Default().Control.ReadCoalesce != 500*time.Microsecond {
					t.Errorf("default control.read_coalesce = %s, want 500µs", Default().Control.ReadCoalesce)
				}
				if c.Control.ReadCoalesce != 0 {
					t.Errorf("control.read_coalesce = %s after --control-read-coalesce 0, want 0 (off)", c.Control.ReadCoalesce)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(tc.args, env(tc.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if tc.name == "defaults" {
				// NodeID is computed the same way in both.
				c.Proxy.NodeID = Default().Proxy.NodeID
			}
			tc.check(t, c)
		})
	}
}

func TestLoadHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"--help", "-h", "-help"} {
		if _, err := Load([]string{arg}, env(nil)); !errors.Is(err, ErrHelp) {
			t.Errorf("Load(%s) = %v, want ErrHelp", arg, err)
		}
	}
}

func TestUsageListsEveryOption(t *testing.T) {
	t.Parallel()
	u := Usage()
	for _, o := range options() {
		for _, s := range []string{"--" + o.flag, o.env, "yaml: " + o.key} {
			if !strings.Contains(u, s) {
				t.Errorf("usage lacks %q", s)
			}
		}
	}
	for _, s := range []string{"--config", "SWITCHBOARD_CONFIG", "PORT", "IP"} {
		if !strings.Contains(u, s) {
			t.Errorf("usage lacks %q", s)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		file string
		want []string // substrings, each must appear
	}{
		{name: "unknown flag", args: []string{"--nope"}, want: []string{"flags:", "nope"}},
		{name: "bad flag value", args: []string{"--port", "eighty"}, want: []string{"-port", "not an integer"}},
		{name: "positional argument", args: []string{"serve"}, want: []string{"unexpected argument"}},
		{name: "missing file", args: []string{"--config", "/nonexistent/switchboard.yaml"}, want: []string{"config file"}},
		{name: "unknown yaml key", file: "listen:\n  prot: 80\n", want: []string{"prot", "not found"}},
		{name: "unknown yaml section", file: "proxxy: {}\n", want: []string{"proxxy"}},
		{name: "yaml type mismatch", file: "listen:\n  port: many\n", want: []string{"yaml"}},
		{name: "yaml bad duration", file: "proxy:\n  dial_timeout: 5\n", want: []string{"yaml"}},
		{name: "two documents", file: "listen: {port: 1}\n---\nlisten: {port: 2}\n", want: []string{"more than one document"}},
		{name: "bad env values, all reported", env: map[string]string{"PORT": "x", "SWITCHBOARD_PROXY_DIAL_TIMEOUT": "soon", "SWITCHBOARD_TRACKER_ONLY": "maybe"},
			want: []string{"env PORT", "env SWITCHBOARD_PROXY_DIAL_TIMEOUT", "env SWITCHBOARD_TRACKER_ONLY"}},
		{name: "validation after load", args: []string{"--port", "70000", "--backend", "ftp://x:1"},
			want: []string{"listen.port", "proxy.backends"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--config", writeFile(t, tc.file)}, args...)
			}
			_, err := Load(args, env(tc.env))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(c *Config)
		want   []string // one substring per expected problem; empty: valid
	}{
		{name: "default", modify: func(*Config) {}},
		{name: "port zero", modify: func(c *Config) { c.Listen.Port = 0 }},
		{name: "ipv6 listener", modify: func(c *Config) { c.Listen.IP = "::1" }},
		{name: "bad ip and port", modify: func(c *Config) { c.Listen.IP = "localhost"; c.Listen.Port = -1 },
			want: []string{"listen.ip", "listen.port"}},
		{name: "backend rules", modify: func(c *Config) {
			c.Proxy.Backends = []string{
				"http://127.0.0.1:3001",          // fine
				"https://[::1]:3002/",            // fine
				"ws://127.0.0.1:3003",            // scheme
				"http://127.0.0.1",               // no port
				"http://u:p@127.0.0.1:3004",      // userinfo
				"http://{ip}:{port}",             // template
				"http://:3005",                   // no host
				"http://0.0.0.0:3006",            // unspecified
				"http://127.0.0.1:8080",          // own listener
				"http://localhost:8080",          // own listener by name
				"http://127.0.0.1:3001",          // duplicate
				"http://127.0.0.1:3007/app",      // path
				"http://127.0.0.1:3008?x=1",      // query
				"http://127.0.0.1:99999",         // port range
				"%zz",                            // not a URL
				"http://127.0.0.1:3009 weight=3", // fine
				"http://127.0.0.1:3010 weight=0", // weight range
				"http://127.0.0.1:3011 weight=x", // weight not a number
				"http://127.0.0.1:3012 backup",   // unknown option
			}
		}, want: []string{"scheme", "explicit port", "userinfo", "unexpanded template", "no host", "unspecified",
			"own listener", "own listener", "twice", "path", "query", "explicit port", "not a URL",
			"weight must be", "weight must be", "unknown option"}},
		{name: "tls cert without key", modify: func(c *Config) { c.Listen.TLSCert = "cert.pem" },
			want: []string{"listen.tls_key: missing"}},
		{name: "tls key without cert", modify: func(c *Config) { c.Listen.TLSKey = "key.pem" },
			want: []string{"listen.tls_cert: missing"}},
		{name: "tls files that do not load", modify: func(c *Config) {
			c.Listen.TLSCert, c.Listen.TLSKey = "/nonexistent/cert.pem", "/nonexistent/key.pem"
		}, want: []string{"listen.tls_cert: open /nonexistent/cert.pem"}},
		{name: "health checks", modify: func(c *Config) { c.Proxy.HealthPath = "/healthz?deep=1" }},
		{name: "bad health checks", modify: func(c *Config) {
			c.Proxy.HealthPath = "healthz"
			c.Proxy.HealthInterval = time.Second
			c.Proxy.HealthTimeout = 2 * time.Second
			c.Proxy.HealthFall = -1
			c.Proxy.HealthRise = -2
		}, want: []string{"proxy.health_path", "proxy.health_timeout: longer", "proxy.health_fall", "proxy.health_rise"}},
		{name: "trusted proxies", modify: func(c *Config) {
			c.Proxy.TrustedProxies = []string{"10.0.0.0/8", "192.168.1.1", "::1", "10.0.0.0/33", "nope"}
		},
			want: []string{`"10.0.0.0/33"`, `"nope"`}},
		{name: "negative and zero durations", modify: func(c *Config) {
			c.Proxy.DialTimeout = -time.Second
			c.Control.PingInterval = -1
			c.Shutdown.StreamCloseDelay = -time.Second
			c.Shutdown.Timeout = -time.Second
			c.Proxy.TunnelIdleTimeout = -time.Second
		}, want: []string{"proxy.dial_timeout", "proxy.tunnel_idle_timeout: negative", "control.ping_interval", "shutdown.timeout", "shutdown.stream_close_delay"}},
		{name: "negative sizes", modify: func(c *Config) { c.Presence.MailboxBytes = -1; c.Control.MaxPayloadBytes = -5 },
			want: []string{"control.max_payload_bytes", "presence.mailbox_bytes"}},
		{name: "channel coalescing bounds", modify: func(c *Config) {
			c.Control.WriteLinger = -time.Millisecond
			c.Control.ReadCoalesce = 11 * time.Millisecond
		}, want: []string{"control.write_linger", "control.read_coalesce"}},
		{name: "nice in range", modify: func(c *Config) { c.Process.Nice = -20 }},
		{name: "nice out of range", modify: func(c *Config) { c.Process.Nice = 20 },
			want: []string{"process.nice: 20 is outside -20..19"}},
		{name: "mailbox larger than total", modify: func(c *Config) { c.Presence.MailboxBytes = 2 << 30 },
			want: []string{"larger than presence.mailbox_total_bytes"}},
		{name: "log", modify: func(c *Config) { c.Log.Level = "loud"; c.Log.Format = "xml" }, want: []string{"log.level", "log.format"}},
		{name: "path clash control tracker", modify: func(c *Config) { c.Tracker.Path = "/list" }, want: []string{`tracker.path: "/list" clashes with control.path`}},
		{name: "path clash message", modify: func(c *Config) { c.Message.Path = "/tracker" }, want: []string{"clashes with tracker.path"}},
		{name: "disabled endpoints do not clash", modify: func(c *Config) {
			c.Tracker.Path, c.Tracker.Disabled = "/list", true
			c.Message.Path, c.Message.Disabled = "/list", true
		}},
		{name: "bad paths", modify: func(c *Config) {
			c.Control.Path = "list"
			c.Tracker.Path = "/"
			c.Message.Path = "/a/../b"
		}, want: []string{"control.path", "message.path", "tracker.path"}},
		{name: "trailing slash", modify: func(c *Config) { c.Control.Path = "/list/" }, want: []string{"must not end with /"}},
		{name: "namespace", modify: func(c *Config) { c.Control.Namespace = "list" }, want: []string{"control.namespace"}},
		{name: "admin clash", modify: func(c *Config) { c.Admin.Addr = "127.0.0.1:8080" }, want: []string{"admin.addr"}},
		{name: "admin clash on all interfaces", modify: func(c *Config) { c.Listen.IP = "0.0.0.0"; c.Admin.Addr = "localhost:8080" }, want: []string{"admin.addr"}},
		{name: "admin bad", modify: func(c *Config) { c.Admin.Addr = "9090" }, want: []string{"admin.addr"}},
		{name: "admin disabled ignores addr", modify: func(c *Config) { c.Admin.Addr = "bogus"; c.Admin.Disabled = true }},
		{name: "origins", modify: func(c *Config) {
			c.Tracker.AllowedOrigins = []string{"*", "https://example.com", "example.com", "https://example.com/app"}
		},
			want: []string{`"example.com"`, `"https://example.com/app"`}},
		{name: "rates", modify: func(c *Config) { c.Message.RatePerSecond = -1; c.Tracker.Burst = -1 }, want: []string{"tracker.burst"}},
		{name: "tracker event limit", modify: func(c *Config) { c.Tracker.EventRatePerSecond = -1; c.Tracker.EventBurst = -2 },
			want: []string{"tracker.event_rate_per_second", "tracker.event_burst"}},
		{name: "tracker only with backends", modify: func(c *Config) { c.Proxy.TrackerOnly = true; c.Proxy.Backends = []string{"http://127.0.0.1:1"} },
			want: []string{"tracker_only"}},
		{name: "header name", modify: func(c *Config) { c.Message.UserKey.Header = "X Bad" }, want: []string{"message.user_key.header"}},
		{name: "node id", modify: func(c *Config) { c.Proxy.NodeID = "a b" }, want: []string{"proxy.node_id"}},
		{name: "backoff order", modify: func(c *Config) { c.Proxy.RetryBackoffMax = time.Millisecond }, want: []string{"proxy.retry_backoff_max"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tc.modify(&c)
			err := c.Validate()
			var got []error
			if err != nil {
				got = err.(interface{ Unwrap() []error }).Unwrap()
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(got), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i].Error(), w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "0"}, {in: "65536", want: 65536}, {in: "64KiB", want: 64 << 10}, {in: "64K", want: 64 << 10},
		{in: "1MiB", want: 1 << 20}, {in: " 2 GiB ", want: 2 << 30}, {in: "10B", want: 10}, {in: "-1", want: -1},
		{in: "", bad: true}, {in: "KiB", bad: true}, {in: "1.5MiB", bad: true}, {in: "1TiB", bad: true},
		{in: "9999999999GiB", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSize(tc.in)
			if (err != nil) != tc.bad || got != tc.want {
				t.Errorf("ParseSize(%q) = %d, %v", tc.in, got, err)
			}
		})
	}
}

func TestDecodeYAMLKeepsUnsetAndReplacesLists(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Proxy.Backends = []string{"http://127.0.0.1:1"}
	c.Tracker.AllowedOrigins = []string{"*"}
	if err := DecodeYAML([]byte("proxy:\n  backends: [http://127.0.0.1:2]\ntracker:\n  show_internal: true\n"), &c); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Proxy.Backends, []string{"http://127.0.0.1:2"}) || !slices.Equal(c.Tracker.AllowedOrigins, []string{"*"}) || !c.Tracker.ShowInternal {
		t.Fatalf("got %+v %+v", c.Proxy, c.Tracker)
	}
	if err := DecodeYAML(nil, &c); err != nil {
		t.Fatalf("empty document: %v", err)
	}
	if err := DecodeYAML([]byte("# only a comment\n"), &c); err != nil {
		t.Fatalf("comment-only document: %v", err)
	}
}

// TestConfigDoc keeps docs/CONFIG.md equal to Markdown(); run with -update
// to rewrite it.
func TestConfigDoc(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "CONFIG.md")
	want := Markdown()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run: go test ./internal/config -run TestConfigDoc -update)", err)
	}
	if string(got) != want {
		t.Fatalf("docs/CONFIG.md is out of date: run go test ./internal/config -run TestConfigDoc -update")
	}
	for _, o := range options() {
		if !strings.Contains(want, "`"+o.key+"`") {
			t.Errorf("doc lacks %s", o.key)
		}
	}
}

func TestChanged(t *testing.T) {
	t.Parallel()
	a := Default()
	b := a
	if got := Changed(a, b); len(got) != 0 {
		t.Fatalf("same config: %v", got)
	}
	b.Proxy.Backends = []string{"http://127.0.0.1:3001"}
	b.Log.Level = "debug"
	b.Control.PingInterval = time.Second
	got := Changed(a, b)
	if strings.Join(got, ",") != "log.level,proxy.backends,control.ping_interval" {
		t.Fatalf("Changed = %v", got)
	}

	// Port 0 without a node_id draws a random one on every load: no change.
	// A node_id set by hand, or a port given, still counts.
	zero := func(id string) Config {
		c := Config{Listen: Listen{Port: 0}, Proxy: Proxy{NodeID: id}}
		c.ApplyDefaults()
		return c
	}
	if got := Changed(zero(""), zero("")); len(got) != 0 {
		t.Fatalf("two loads at port 0: %v", got)
	}
	if got := Changed(zero(""), zero("edge-1")); strings.Join(got, ",") != "proxy.node_id" {
		t.Fatalf("node_id set by hand: %v", got)
	}
}
