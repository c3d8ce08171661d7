package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// option describes one configuration field once: the --help text, the
// environment variable, the flag and the README table are generated from it.
type option struct {
	// field returns a pointer to the field in c: *string, *int, *int64,
	// *float64, *bool, *time.Duration or *[]string.
	field func(c *Config) any
	// help is one sentence; the default is appended from Default().
	help string
	// flag overrides the flag name derived from the YAML key
	// (proxy.dial_timeout → proxy-dial-timeout).
	flag string
	// env overrides the variable derived from the YAML key
	// (proxy.dial_timeout → SWITCHBOARD_PROXY_DIAL_TIMEOUT).
	env string
	// legacyEnv is the original Node server's variable (IP, PORT), read
	// before every SWITCHBOARD_* variable.
	legacyEnv string
	// secret values are never printed.
	secret bool
	// def overrides the default's rendering (for computed defaults).
	def string
	// meta is the placeholder of the flag's value in --help.
	meta string

	key string // YAML key (section.field), filled by options()
}

// options returns the field table, in the order --help lists it. A test
// checks that every leaf field of Config appears exactly once.
func options() []option {
	opts := []option{
		{field: func(c *Config) any { return &c.Listen.IP }, flag: "ip", env: "SWITCHBOARD_IP", legacyEnv: "IP", meta: "IP",
			help: "IP address the main listener (proxy, /list channel, tracker, message route) binds."},
		{field: func(c *Config) any { return &c.Listen.Port }, flag: "port", env: "SWITCHBOARD_PORT", legacyEnv: "PORT", meta: "PORT",
			help: "TCP port of the main listener; 0 picks a free port."},
		{field: func(c *Config) any { return &c.Listen.ReadHeaderTimeout },
			help: "Bound on reading one request's header."},
		{field: func(c *Config) any { return &c.Listen.IdleTimeout },
			help: "Idle client keep-alive connections are closed after this."},
		{field: func(c *Config) any { return &c.Listen.MaxHeaderBytes },
			help: "Bound on one request's header block, in bytes."},
		{field: func(c *Config) any { return &c.Listen.MaxConns }, def: "(open-file limit - 1000) / 2",
			help: "Cap on open client connections of the main listener (each HTTP/2 request in flight holds a slot too); at the cap new clients wait in the kernel's backlog and new HTTP/2 requests get 503."},
		{field: func(c *Config) any { return &c.Listen.TLSCert }, meta: "FILE",
			help: "PEM certificate chain: with --listen-tls-key the main listener serves only TLS (https, wss); renewed files are reloaded within a second."},
		{field: func(c *Config) any { return &c.Listen.TLSKey }, meta: "FILE",
			help: "PEM private key of --listen-tls-cert."},
		{field: func(c *Config) any { return &c.Listen.NoHTTP2 },
			help: "Offer only HTTP/1.1 on the TLS listener; by default ALPN offers HTTP/2 too (WebSockets always use HTTP/1.1 connections)."},

		{field: func(c *Config) any { return &c.Log.Level }, flag: "log-level", meta: "LEVEL",
			help: "Minimum log level: debug, info, warn or error."},
		{field: func(c *Config) any { return &c.Log.Format }, flag: "log-format", meta: "FORMAT",
			help: "Log format: text or json."},
		{field: func(c *Config) any { return &c.Log.Requests }, flag: "log-requests",
			help: "Access log: one Info line per proxied request (client, method, uri, status, backend, duration)."},

		{field: func(c *Config) any { return &c.Proxy.Backends }, flag: "backend", env: "SWITCHBOARD_BACKENDS", meta: "URL",
			help: "Static backend URL (http://host:port), optionally followed by weight=N, for servers without the /list channel; repeatable, or comma-separated."},
		{field: func(c *Config) any { return &c.Proxy.DialTimeout },
			help: "Bound on connecting to a backend."},
		{field: func(c *Config) any { return &c.Proxy.ResponseHeaderTimeout },
			help: "Bound on waiting for a backend's response header; exceeded → 504."},
		{field: func(c *Config) any { return &c.Proxy.IdleConnsPerBackend },
			help: "Keep-alive connections pooled per backend."},
		{field: func(c *Config) any { return &c.Proxy.IdleConnTimeout },
			help: "Pooled backend connections idle this long are closed."},
		{field: func(c *Config) any { return &c.Proxy.TunnelIdleTimeout },
			help: "Close an upgraded (WebSocket) tunnel after this long without traffic either way; 0 never does."},
		{field: func(c *Config) any { return &c.Proxy.NoIOURing },
			help: "Write tunnel traffic with one write(2) per message and serve keep-alive HTTP connections from their goroutines; by default tunnel messages and plain requests are served from epoll reactors that make each batch's writes with one io_uring call where Linux allows it (and with write(2), from goroutines for HTTP, where it does not)."},
		{field: func(c *Config) any { return &c.Proxy.TrustedProxies }, meta: "CIDR",
			help: "CIDR or IP of a proxy in front of Switchboard whose X-Forwarded-* headers are kept (others are replaced); repeatable, or comma-separated."},
		{field: func(c *Config) any { return &c.Proxy.NodeID }, def: "hostname-port", meta: "ID",
			help: "Name of this node in the Via loop guard; a request that already passed it gets 508."},
		{field: func(c *Config) any { return &c.Proxy.StickyTTL },
			help: "How long an Engine.IO session id stays pinned to its backend after its last request."},
		{field: func(c *Config) any { return &c.Proxy.RetryBackoff },
			help: "How long a backend that refused a dial first stays out of rotation; doubles on each further failure."},
		{field: func(c *Config) any { return &c.Proxy.RetryBackoffMax },
			help: "Cap of the growing retry backoff."},
		{field: func(c *Config) any { return &c.Proxy.HealthPath }, meta: "PATH",
			help: "Active health checks: each backend gets a GET of this path (2xx/3xx passes) every --proxy-health-interval; off when empty."},
		{field: func(c *Config) any { return &c.Proxy.HealthInterval },
			help: "Time between two health checks of a backend."},
		{field: func(c *Config) any { return &c.Proxy.HealthTimeout },
			help: "Bound on one health check (connect, answer); at most the interval."},
		{field: func(c *Config) any { return &c.Proxy.HealthFall },
			help: "Failed health checks in a row that take a backend out of rotation."},
		{field: func(c *Config) any { return &c.Proxy.HealthRise },
			help: "Passed health checks in a row that bring it back."},
		{field: func(c *Config) any { return &c.Proxy.TrackerOnly }, flag: "tracker-only", env: "SWITCHBOARD_TRACKER_ONLY",
			help: "Run the channel, presence, messaging and tracker only; other paths answer 404 instead of being proxied."},

		{field: func(c *Config) any { return &c.Control.Path }, meta: "PATH",
			help: "Engine.IO path of the /list channel on the main listener."},
		{field: func(c *Config) any { return &c.Control.Namespace }, meta: "NSP",
			help: "Socket.IO namespace of the /list channel."},
		{field: func(c *Config) any { return &c.Control.Token }, flag: "token", secret: true, meta: "SECRET",
			help: "Shared secret backends present in CONNECT (auth.token or ?token=); prefer the environment variable, flags show in ps."},
		{field: func(c *Config) any { return &c.Control.AllowRemote },
			help: "Let non-loopback peers register without a token (without a token only loopback peers may register)."},
		{field: func(c *Config) any { return &c.Control.PingInterval },
			help: "Engine.IO heartbeat interval of the channel."},
		{field: func(c *Config) any { return &c.Control.PingTimeout },
			help: "How long a missing pong is tolerated before the session ends."},
		{field: func(c *Config) any { return &c.Control.MaxPayloadBytes },
			help: "Bound on one Engine.IO payload or message of the channel, in bytes."},
		{field: func(c *Config) any { return &c.Control.MaxMetaBytes },
			help: "Bound on the meta object of an address event, in bytes."},
		{field: func(c *Config) any { return &c.Control.MaxSessions },
			help: "Bound on concurrent channel sessions, those still between handshake and CONNECT (10 s at most) included; past it a handshake gets 403."},
		{field: func(c *Config) any { return &c.Control.SendQueueMessages },
			help: "Outbound queue per session, in messages; a session that overflows it is cut off as a slow consumer."},
		{field: func(c *Config) any { return &c.Control.ReadCoalesce },
			help: "How long a session's reader may gather a busy backend's messages before it reads them (one wake-up serves every busy session, and each backend gets one write per wake-up; Linux), for at most this much added latency while messages arrive several per period; 0 reads each at once. At most 10ms."},
		{field: func(c *Config) any { return &c.Control.WriteLinger },
			help: "How long a session's writer may wait for more messages before writing a small batch (fewer system calls and wake-ups per message, at most this much added latency); 0 writes at once. At most 10ms."},

		{field: func(c *Config) any { return &c.Presence.Grace },
			help: "How long an orphaned user name stays reserved (and its mailbox kept) after its backend's session ends."},
		{field: func(c *Config) any { return &c.Presence.MaxNameBytes },
			help: "Bound on one user name, in bytes."},
		{field: func(c *Config) any { return &c.Presence.MailboxMessages },
			help: "Messages kept per orphaned name; the oldest is dropped first."},
		{field: func(c *Config) any { return &c.Presence.MailboxBytes },
			help: "Bytes kept per orphaned name."},
		{field: func(c *Config) any { return &c.Presence.MailboxTotalBytes },
			help: "Bytes kept in all mailboxes together."},
		{field: func(c *Config) any { return &c.Presence.MailboxTotalMessages },
			help: "Messages kept in all mailboxes together (each also costs about 300 bytes of bookkeeping); the oldest is dropped first."},

		{field: func(c *Config) any { return &c.Message.Path }, meta: "PATH",
			help: "Path of the HTTP message route (POST) on the main listener."},
		{field: func(c *Config) any { return &c.Message.Disabled },
			help: "Turn the message route off; its path is then proxied."},
		{field: func(c *Config) any { return &c.Message.MaxBodyBytes },
			help: "Bound on a message body, in bytes; larger → 413."},
		{field: func(c *Config) any { return &c.Message.Token }, secret: true, meta: "SECRET",
			help: "If set, the message route requires \"Authorization: Bearer <token>\"."},
		{field: func(c *Config) any { return &c.Message.RatePerSecond }, meta: "RATE",
			help: "Sustained message-route requests per second and client IP; negative: unlimited."},
		{field: func(c *Config) any { return &c.Message.Burst },
			help: "Message-route request burst per client IP."},
		{field: func(c *Config) any { return &c.Message.UserKey.Query }, meta: "NAME",
			help: "Query parameter naming the message's recipient."},
		{field: func(c *Config) any { return &c.Message.UserKey.Header }, meta: "NAME",
			help: "Header naming the message's recipient (used when the query parameter is absent)."},
		{field: func(c *Config) any { return &c.Message.UserKey.Cookie }, def: "none", meta: "NAME",
			help: "Cookie naming the message's recipient (used when query and header are absent)."},

		{field: func(c *Config) any { return &c.Proxy.Affinity.Query }, def: "none", meta: "NAME",
			help: "User affinity: query parameter naming the user; a request naming a held user goes to its backend."},
		{field: func(c *Config) any { return &c.Proxy.Affinity.Header }, def: "none", meta: "NAME",
			help: "User affinity: header naming the user (used when the query parameter is absent)."},
		{field: func(c *Config) any { return &c.Proxy.Affinity.Cookie }, def: "none", meta: "NAME",
			help: "User affinity: cookie naming the user (used when query and header are absent)."},

		{field: func(c *Config) any { return &c.Tracker.Path }, meta: "PATH",
			help: "Engine.IO path of the public tracker endpoint on the main listener."},
		{field: func(c *Config) any { return &c.Tracker.Disabled },
			help: "Turn the tracker off; its path is then proxied."},
		{field: func(c *Config) any { return &c.Tracker.AllowedOrigins }, def: "same origin only", meta: "ORIGIN",
			help: "Origin (scheme://host[:port], or *) browsers may connect to the tracker from; repeatable, or comma-separated."},
		{field: func(c *Config) any { return &c.Tracker.ShowInternal },
			help: "Show backends' internal addresses to browsers when they announced no public url."},
		{field: func(c *Config) any { return &c.Tracker.MaxClients },
			help: "Bound on concurrent tracker clients."},
		{field: func(c *Config) any { return &c.Tracker.RatePerSecond }, meta: "RATE",
			help: "Tracker connection attempts per second and client IP; negative: unlimited."},
		{field: func(c *Config) any { return &c.Tracker.Burst },
			help: "Tracker connection burst per client IP."},
		{field: func(c *Config) any { return &c.Tracker.EventRatePerSecond }, meta: "RATE",
			help: "Events per second a tracker client may send (its CONNECT counts as one) before it is disconnected."},
		{field: func(c *Config) any { return &c.Tracker.EventBurst },
			help: "Event burst a tracker client may send before it is disconnected."},

		{field: func(c *Config) any { return &c.Admin.Addr }, flag: "admin", meta: "HOST:PORT",
			help: "Address of the admin listener (/healthz, /backends, /stats)."},
		{field: func(c *Config) any { return &c.Admin.Disabled },
			help: "Turn the admin listener off."},

		{field: func(c *Config) any { return &c.Shutdown.DrainDelay },
			help: "On SIGINT/SIGTERM, how long /healthz answers 503 before the listeners stop accepting."},
		{field: func(c *Config) any { return &c.Shutdown.Timeout },
			help: "Bound on finishing in-flight requests and closing tunnels and sessions; what is left is closed forcibly."},
		{field: func(c *Config) any { return &c.Shutdown.StreamCloseDelay },
			help: "How long tunnels (WebSocket, other upgrades) may go on after the listeners stopped."},

		{field: func(c *Config) any { return &c.Process.Nice }, flag: "nice", env: "SWITCHBOARD_NICE", meta: "N",
			help: "Scheduling niceness of every Switchboard thread, -20 to 19 as nice(1) takes it; below 0 needs root or CAP_SYS_NICE, and Switchboard refuses to start if it cannot set it. On a host whose CPUs it shares with its backends, -5 lets the proxy finish a batch of messages before the backends it wakes take its CPU."},
	}
	var probe Config
	keys := yamlKeys(&probe)
	for i := range opts {
		o := &opts[i]
		o.key = keys[reflect.ValueOf(o.field(&probe)).Pointer()]
		if o.key == "" {
			panic("config: option table names a field outside Config") // programmer error
		}
		if o.flag == "" {
			o.flag = strings.NewReplacer(".", "-", "_", "-").Replace(o.key)
		}
		if o.env == "" {
			o.env = "SWITCHBOARD_" + strings.ToUpper(strings.ReplaceAll(o.key, ".", "_"))
		}
	}
	return opts
}

// yamlKeys maps the address of every leaf field of *c to its dotted YAML key.
func yamlKeys(c *Config) map[uintptr]string {
	keys := map[uintptr]string{}
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := range t.NumField() {
			if !t.Field(i).IsExported() {
				continue // state kept beside the options, not one of them
			}
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			f := v.Field(i)
			if f.Kind() == reflect.Struct {
				walk(f, prefix+name+".")
				continue
			}
			keys[f.Addr().Pointer()] = prefix + name
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	return keys
}

// usageName returns "--name META" for help and docs.
func (o *option) usageName() string {
	if o.isBool() {
		return "--" + o.flag
	}
	return "--" + o.flag + " " + o.metavar()
}

func (o *option) metavar() string {
	if o.meta != "" {
		return o.meta
	}
	var c Config
	switch o.field(&c).(type) {
	case *time.Duration:
		return "DURATION"
	case *int64:
		return "BYTES"
	case *int:
		return "N"
	case *float64:
		return "RATE"
	}
	return "VALUE"
}

func (o *option) isBool() bool {
	var c Config
	_, ok := o.field(&c).(*bool)
	return ok
}

// defaultText renders the option's default for help and docs.
func (o *option) defaultText() string {
	if o.def != "" {
		return o.def
	}
	d := Default()
	switch p := o.field(&d).(type) {
	case *string:
		if *p == "" {
			return "none"
		}
		return *p
	case *int:
		return strconv.Itoa(*p)
	case *int64:
		return formatSize(*p)
	case *float64:
		return strconv.FormatFloat(*p, 'g', -1, 64)
	case *bool:
		return strconv.FormatBool(*p)
	case *time.Duration:
		return formatDuration(*p)
	case *[]string:
		if len(*p) == 0 {
			return "none"
		}
		return strings.Join(*p, ",")
	}
	panic(fmt.Sprintf("config: unsupported field type %T", o.field(&d)))
}

// set parses s into the option's field of c. appendList adds to a list
// instead of replacing it (repeated flags).
func (o *option) set(c *Config, s string, appendList bool) error {
	switch p := o.field(c).(type) {
	case *string:
		*p = s
	case *int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("not an integer: %q", s)
		}
		*p = n
	case *int64:
		n, err := ParseSize(s)
		if err != nil {
			return err
		}
		*p = n
	case *float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("not a number: %q", s)
		}
		*p = f
	case *bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("not a boolean (true/false): %q", s)
		}
		*p = b
	case *time.Duration:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("not a duration (e.g. 1.5s, 2m): %q", s)
		}
		*p = d
	case *[]string:
		var items []string
		for it := range strings.SplitSeq(s, ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		if appendList {
			*p = append(*p, items...)
		} else {
			*p = items
		}
	default:
		panic(fmt.Sprintf("config: unsupported field type %T", p))
	}
	return nil
}

// ParseSize parses a byte count: a plain integer, or one with a binary
// suffix KiB, MiB or GiB (also K, M, G), e.g. "64KiB".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not a size (e.g. 65536, 64KiB, 1MiB): %q", s)
	}
	if n > 0 && n > (1<<62)/mult || n < 0 && n < -(1<<62)/mult {
		return 0, fmt.Errorf("size out of range: %q", s)
	}
	return n * mult, nil
}

func formatSize(n int64) string {
	switch {
	case n != 0 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n != 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n != 0 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10)
}

// formatDuration drops time.Duration.String's zero tails ("2m0s" → "2m").
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
