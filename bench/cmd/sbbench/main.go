// Command sbbench is Switchboard's benchmark harness: one program with
// scenarios (proxy, sio, and the ones later issues add) and the helper modes
// the scenarios run as separate, pinned processes (backends, load
// generators, idle-connection holders, the Socket.IO bench server).
//
//	sbbench list
//	sbbench run SCENARIO [flags]     (see bench/README.md; bench/run.sh wraps it)
//	sbbench MODE [flags]             helper modes, started by the scenarios
//
// Every load loop is bounded in count and time, everything listens on
// 127.0.0.1, and every process the harness starts is killed when it ends.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Scenario is one benchmark. To add one (issue 4 `messaging`, issue 6
// `sdk`), write a type implementing it in its own file and list it in
// scenarios(); use Env to start processes and the proc/report helpers to
// measure and print.
type Scenario interface {
	Name() string
	Summary() string
	// Flags registers the scenario's options on fs (called before Parse).
	Flags(fs *flag.FlagSet)
	// Run measures and returns the report. Processes started through env
	// are stopped by the harness afterwards.
	Run(ctx context.Context, env *Env) (*Report, error)
}

// scenarios is the registry.
func scenarios() []Scenario {
	return []Scenario{
		&proxyScenario{},
		&sioScenario{},
		&messagingScenario{},
	}
}

// modes are the helper subcommands (run as child processes).
var modes = map[string]func(args []string) error{
	"backend":   cmdBackend,
	"goproxy":   cmdGoProxy,
	"rate":      cmdRate,
	"wsecho":    cmdWSEcho,
	"wshold":    cmdWSHold,
	"sioserver": cmdSIOServer,
	"sioload":   cmdSIOLoad,
	"siohold":   cmdSIOHold,
	"msgusers":  cmdMsgUsers,
	"msgfloor":  cmdMsgFloor,
}

// Env is what a scenario runs in.
type Env struct {
	Root       string // repository root
	Out        string // bench/results/<scenario>-<stamp>
	Logs       string // Out/logs
	Tmp        string // bench/results/tmp/<scenario> (configs, pid files)
	Self       string // path of this sbbench binary (for helper modes)
	BinDir     string // bench/results/bin (switchboard binary etc.)
	LoadCPUs   string
	ServerCPUs string
	Quick      bool
	// Set holds the flags given on the command line (so -quick only
	// changes the ones the user did not set).
	Set map[string]bool
}

// QuickDefault sets *dst to v when -quick is on and the flag was not given.
func QuickDefault[T any](e *Env, flagName string, dst *T, v T) {
	if e.Quick && !e.Set[flagName] {
		*dst = v
	}
}

// Start starts a process with its log under Logs.
func (e *Env) Start(spec ProcSpec) (*Proc, error) {
	if spec.Dir == "" {
		spec.Dir = e.Root
	}
	return StartProc(spec, e.Logs)
}

// SelfArgv returns argv running this binary in helper mode.
func (e *Env) SelfArgv(mode string, args ...string) []string {
	return append([]string{e.Self, mode}, args...)
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch cmd := os.Args[1]; cmd {
	case "list":
		for _, s := range scenarios() {
			fmt.Printf("%-10s %s\n", s.Name(), s.Summary())
		}
	case "run":
		err = runScenario(os.Args[2:])
	case "-h", "--help", "help":
		usage()
	default:
		m, ok := modes[cmd]
		if !ok {
			usage()
			os.Exit(2)
		}
		err = m(os.Args[2:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sbbench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: sbbench list | sbbench run SCENARIO [flags] | sbbench MODE [flags]")
	fmt.Fprintln(os.Stderr, "scenarios:")
	for _, s := range scenarios() {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", s.Name(), s.Summary())
	}
	var ms []string
	for m := range modes {
		ms = append(ms, m)
	}
	sort.Strings(ms)
	fmt.Fprintln(os.Stderr, "helper modes:", strings.Join(ms, " "))
}

func runScenario(args []string) error {
	if len(args) < 1 {
		return fmt.Errorf("run: missing scenario (try `sbbench list`)")
	}
	var sc Scenario
	for _, s := range scenarios() {
		if s.Name() == args[0] {
			sc = s
		}
	}
	if sc == nil {
		return fmt.Errorf("run: unknown scenario %q", args[0])
	}
	fs := flag.NewFlagSet(sc.Name(), flag.ExitOnError)
	root := fs.String("root", "", "repository root (default: found from the working directory)")
	out := fs.String("out", "", "results directory (default bench/results/<scenario>-<UTC stamp>)")
	loadCPUs := fs.String("load-cpus", "1", "taskset CPU list for load generators (empty: no pinning)")
	serverCPUs := fs.String("server-cpus", "0", "taskset CPU list for single-threaded servers under test (empty: no pinning)")
	maxTotal := fs.Duration("max-total", 2*time.Hour, "hard bound on the whole run")
	quick := fs.Bool("quick", false, "smoke-test sizes (short durations, 1 run, 1,000 idle conns)")
	sc.Flags(fs)
	fs.Parse(args[1:])

	env := &Env{LoadCPUs: *loadCPUs, ServerCPUs: *serverCPUs, Quick: *quick, Set: map[string]bool{}}
	fs.Visit(func(f *flag.Flag) { env.Set[f.Name] = true })
	var err error
	if env.Root, err = findRoot(*root); err != nil {
		return err
	}
	if env.Self, err = os.Executable(); err != nil {
		return err
	}
	stamp := time.Now().UTC().Format("20060102T150405Z")
	env.Out = *out
	if env.Out == "" {
		env.Out = filepath.Join(env.Root, "bench", "results", sc.Name()+"-"+stamp)
	}
	env.Logs = filepath.Join(env.Out, "logs")
	env.Tmp = filepath.Join(env.Root, "bench", "results", "tmp", sc.Name())
	env.BinDir = filepath.Join(env.Root, "bench", "results", "bin")
	for _, d := range []string{env.Out, env.Logs, env.Tmp, env.BinDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if runtime.NumCPU() < 2 && (env.LoadCPUs != "" || env.ServerCPUs != "") {
		fmt.Fprintln(os.Stderr, "sbbench: fewer than 2 CPUs: pinning disabled")
		env.LoadCPUs, env.ServerCPUs = "", ""
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *maxTotal)
	defer cancel()
	defer children.stopAll()

	load0 := loadAvg()
	fm := StartForeign()
	t0 := time.Now()
	rep, err := sc.Run(ctx, env)
	children.stopAll()
	if rep != nil {
		rep.Command = "sbbench run " + strings.Join(args, " ")
		rep.Sections = append(rep.Sections, Section{Heading: "Machine", Notes: []string{
			fmt.Sprintf("%d CPUs, %s; started %s, took %s", runtime.NumCPU(), runtime.Version(), t0.UTC().Format(time.RFC3339), time.Since(t0).Round(time.Second)),
			fmt.Sprintf("load average before: %s; after: %s; other processes kept %.2f CPUs busy on average during the run (noise columns: the same per measurement; ⚠ over 0.1: rerun on a quiet machine)", load0, loadAvg(), fm.Cores()),
		}})
		f, ferr := os.Create(filepath.Join(env.Out, "summary.md"))
		if ferr == nil {
			rep.Markdown(f)
			f.Close()
		}
		if b, jerr := json.MarshalIndent(jsonSafe(rep.Raw), "", "  "); jerr == nil {
			os.WriteFile(filepath.Join(env.Out, "results.json"), b, 0o644)
		} else {
			fmt.Fprintln(os.Stderr, "sbbench: results.json:", jerr)
		}
		rep.Markdown(os.Stdout)
		fmt.Printf("Results: %s\n", env.Out)
	}
	return err
}

func findRoot(flagRoot string) (string, error) {
	if flagRoot != "" {
		return filepath.Abs(flagRoot)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory: pass -root")
		}
		dir = parent
	}
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
