// Package config owns Switchboard's configuration: the Config type with one
// plain sub-struct per component, its defaults, loading (defaults < YAML file
// < IP/PORT environment < SWITCHBOARD_* environment < flags) and validation.
//
// Every option is described once, in the field table of options.go; the
// --help text, the environment variable and flag names and the markdown
// table of docs/CONFIG.md are all generated from it, so they cannot drift.
//
// The package imports no component package (only backend's address rule,
// shared with the /list channel): internal/app translates these plain
// values into each component's own configuration. No other
// package reads flags or the environment.
package config
