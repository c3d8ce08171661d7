package config

import (
	"fmt"
	"strings"
)

// Usage returns the --help text: every option with its flag, environment
// variables, YAML key and default, generated from the field table.
func Usage() string {
	var b strings.Builder
	b.WriteString(`Usage: switchboard [flags]

Switchboard: a load balancer and message hub for stateful WebSocket backends.
Backends join the pool over the /list channel (or are listed with --backend);
every other request on the main listener is proxied to the pool.

Precedence (lowest first): defaults < YAML file (--config or SWITCHBOARD_CONFIG)
< IP/PORT environment < SWITCHBOARD_* environment < flags. Durations take units
(500ms, 2s, 1m); sizes are bytes or take KiB/MiB/GiB (64KiB).

Flags:
  --config FILE
        YAML configuration file; unknown keys are errors. (env: SWITCHBOARD_CONFIG)
  -h, --help
        Show this help.
`)
	section := ""
	for _, o := range options() {
		if s, _, _ := strings.Cut(o.key, "."); s != section {
			section = s
			fmt.Fprintf(&b, "\n  [%s]\n", section)
		}
		fmt.Fprintf(&b, "  %s\n", o.usageName())
		env := o.env
		if o.legacyEnv != "" {
			env += ", " + o.legacyEnv
		}
		def := o.defaultText()
		if o.secret {
			def += ", secret"
		}
		fmt.Fprintf(&b, "        %s (default %s)\n        env: %s  yaml: %s\n", o.help, def, env, o.key)
	}
	b.WriteString("\nExit status: 0 after a clean shutdown, 1 on a runtime error, 2 on a configuration error.\n")
	return b.String()
}

// Markdown returns docs/CONFIG.md: the configuration reference, generated
// from the field table (a test keeps the committed file up to date).
func Markdown() string {
	var b strings.Builder
	b.WriteString(`# Configuration

<!-- Generated from internal/config (options.go); do not edit by hand.
     Regenerate: go test ./internal/config -run TestConfigDoc -update -->

Switchboard reads its configuration from, lowest precedence first:

1. built-in defaults (below),
2. a YAML file named by ` + "`--config FILE`" + ` or ` + "`SWITCHBOARD_CONFIG`" + ` (unknown keys are errors),
3. the original server's ` + "`IP`" + ` and ` + "`PORT`" + ` environment variables,
4. ` + "`SWITCHBOARD_*`" + ` environment variables,
5. command-line flags.

Every problem is reported at start-up, all at once, and the process exits with status 2.
Durations take units (` + "`500ms`, `2s`, `1m`" + `). Sizes are bytes; flags and environment variables also
accept ` + "`KiB`, `MiB`, `GiB`" + ` (` + "`64KiB`" + `). Lists are repeated flags or comma-separated values; a
list given in a layer replaces the lower layers' list. Secrets (tokens) are better passed through
the environment than flags, which other users can see in ` + "`ps`" + `. ` + "`switchboard --help`" + ` prints the same
reference.

| YAML key | Flag | Environment | Default | Description |
| --- | --- | --- | --- | --- |
`)
	for _, o := range options() {
		env := "`" + o.env + "`"
		if o.legacyEnv != "" {
			env += ", `" + o.legacyEnv + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s | %s |\n",
			o.key, o.usageName(), env, "`"+o.defaultText()+"`", strings.ReplaceAll(o.help, "|", `\|`))
	}
	b.WriteString(`
## Example file

Every key is optional; this one restates some defaults and adds two static backends.

` + "```yaml" + `
listen:
  ip: 127.0.0.1
  port: 8080
log:
  level: info
  format: json
proxy:
  backends:
    - http://127.0.0.1:3001
    - http://127.0.0.1:3002
  trusted_proxies: [10.0.0.0/8]
  dial_timeout: 2s
control:
  allow_remote: false     # set control.token (SWITCHBOARD_CONTROL_TOKEN) instead for remote backends
  ping_interval: 25s
presence:
  grace: 30s
  mailbox_bytes: 65536
admin:
  addr: 127.0.0.1:9090
shutdown:
  drain_delay: 1s
  timeout: 15s
` + "```" + `
`)
	return b.String()
}
