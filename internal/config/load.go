package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrHelp is returned by Load when the arguments ask for --help (or -h);
// the caller prints Usage() and exits 0.
var ErrHelp = errors.New("config: help requested")

// EnvConfig names the environment variable holding the YAML file's path
// (the --config flag wins over it).
const EnvConfig = "SWITCHBOARD_CONFIG"

// maxFileBytes bounds the YAML file read by Load.
const maxFileBytes = 1 << 20

// Load builds the configuration from, in increasing precedence: defaults,
// the YAML file named by --config or SWITCHBOARD_CONFIG, the original's IP
// and PORT variables, SWITCHBOARD_* variables, and flags (args excludes the
// program name). getenv is os.Getenv in main; tests pass their own.
//
// The returned Config has its defaults applied and has been validated;
// on error it is still the best-effort result. Every problem found is
// reported, joined with errors.Join. Load has no global state and is safe
// for concurrent use.
func Load(args []string, getenv func(string) string) (Config, error) {
	opts := options()
	fs, sets, path := newFlagSet(opts)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Default(), ErrHelp
		}
		return Default(), fmt.Errorf("flags: %w", err)
	}
	if fs.NArg() > 0 {
		return Default(), fmt.Errorf("flags: unexpected argument %q (options are flags, see --help)", fs.Arg(0))
	}

	cfg := Default()
	cfg.Proxy.NodeID = "" // computed last, from the final port, unless set
	var errs []error
	if *path == "" {
		*path = getenv(EnvConfig)
	}
	if *path != "" {
		if err := loadFile(*path, &cfg); err != nil {
			errs = append(errs, err)
		}
	}
	for _, o := range opts {
		if o.legacyEnv == "" {
			continue
		}
		if v := getenv(o.legacyEnv); v != "" {
			if err := o.set(&cfg, v, false); err != nil {
				errs = append(errs, fmt.Errorf("env %s: %w", o.legacyEnv, err))
			}
		}
	}
	for _, o := range opts {
		if v := getenv(o.env); v != "" {
			if err := o.set(&cfg, v, false); err != nil {
				errs = append(errs, fmt.Errorf("env %s: %w", o.env, err))
			}
		}
	}
	seen := map[string]bool{}
	for _, s := range *sets {
		// A list flag given several times accumulates; its first use
		// replaces what the file and environment said.
		_ = s.opt.set(&cfg, s.value, seen[s.opt.flag]) // already checked by the flag's Set
		seen[s.opt.flag] = true
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	return cfg, errors.Join(errs...)
}

// flagSetting is one flag occurrence, applied after the file and the
// environment.
type flagSetting struct {
	opt   *option
	value string
}

// flagValue records occurrences; it checks the value at parse time so a
// bad flag is reported with its name.
type flagValue struct {
	opt  *option
	sets *[]flagSetting
}

func (v flagValue) String() string { return "" }

func (v flagValue) Set(s string) error {
	var scratch Config
	if err := v.opt.set(&scratch, s, false); err != nil {
		return err
	}
	*v.sets = append(*v.sets, flagSetting{opt: v.opt, value: s})
	return nil
}

func (v flagValue) IsBoolFlag() bool { return v.opt.isBool() }

func newFlagSet(opts []option) (fs *flag.FlagSet, sets *[]flagSetting, path *string) {
	fs = flag.NewFlagSet("switchboard", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	sets = new([]flagSetting)
	path = fs.String("config", "", "")
	for i := range opts {
		fs.Var(flagValue{opt: &opts[i], sets: sets}, opts[i].flag, opts[i].help)
	}
	return fs, sets, path
}

func loadFile(path string, cfg *Config) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	if len(data) > maxFileBytes {
		return fmt.Errorf("config file %s: larger than %d bytes", path, maxFileBytes)
	}
	if err := DecodeYAML(data, cfg); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// DecodeYAML decodes one YAML document over cfg: keys present replace the
// values in cfg (a list replaces the whole list), absent keys leave them.
// Unknown keys, a second document and type mismatches are errors. An empty
// document changes nothing.
func DecodeYAML(data []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	next := *cfg
	// Lists are decoded into fresh slices so a file's list never aliases
	// (or appends to) the caller's.
	next.Proxy.Backends, next.Proxy.TrustedProxies, next.Tracker.AllowedOrigins = nil, nil, nil
	if err := dec.Decode(&next); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("yaml: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("yaml: more than one document")
	}
	keepList(&next.Proxy.Backends, cfg.Proxy.Backends)
	keepList(&next.Proxy.TrustedProxies, cfg.Proxy.TrustedProxies)
	keepList(&next.Tracker.AllowedOrigins, cfg.Tracker.AllowedOrigins)
	*cfg = next
	return nil
}

// keepList restores old when the document did not set the list.
func keepList(p *[]string, old []string) {
	if *p == nil && old != nil {
		*p = append([]string(nil), old...)
	}
}
