// Command switchboard runs Switchboard: a load balancer and message hub for
// stateful WebSocket backends. `switchboard --help` lists every option;
// docs/CONFIG.md is the same reference.
//
// Exit status: 0 after a clean shutdown (SIGINT/SIGTERM), 1 on a runtime
// error, 2 on a configuration error (every problem is printed).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/switchboard-lb/switchboard/internal/app"
	"github.com/switchboard-lb/switchboard/internal/config"
	"github.com/switchboard-lb/switchboard/internal/priority"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(args, getenv)
	if errors.Is(err, config.ErrHelp) {
		fmt.Fprint(stdout, config.Usage())
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "switchboard: invalid configuration:")
		for _, p := range problems(err) {
			fmt.Fprintf(stderr, "  - %s\n", strings.ReplaceAll(p, "\n", "\n    "))
		}
		fmt.Fprintln(stderr, "run `switchboard --help` for every option")
		return 2
	}

	level := new(slog.LevelVar)
	level.Set(parseLevel(cfg.Log.Level))
	logger := newLogger(cfg.Log, level, stderr)
	slog.SetDefault(logger)

	if n := cfg.Process.Nice; n != 0 {
		if err := priority.Set(n); err != nil {
			logger.Error("exit: process.nice cannot be applied", "err", err)
			return 1
		}
		logger.Info("niceness set", "nice", n)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// After the first signal, a second one kills at once (default action).
	context.AfterFunc(ctx, stop)

	// SIGHUP reads the configuration again (same flags, environment and
	// file): the log level and the static backends change at once.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reloads := make(chan config.Config, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			next, err := config.Load(args, getenv)
			if err != nil {
				logger.Error("reload refused: invalid configuration; keeping the running one", "problems", strings.Join(problems(err), "; "))
				continue
			}
			level.Set(parseLevel(next.Log.Level))
			select {
			case reloads <- next:
			case <-ctx.Done():
				return
			}
		}
	}()

	if err := app.RunWith(ctx, cfg, logger, app.Options{Reload: reloads}); err != nil {
		logger.Error("exit", "err", err)
		return 1
	}
	return 0
}

// problems flattens errors.Join trees into one line per problem.
func problems(err error) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, problems(e)...)
		}
		return out
	}
	return []string{err.Error()}
}

// parseLevel returns the slog level named by a validated log.level.
func parseLevel(s string) slog.Level {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(strings.Replace(s, "warning", "warn", 1)))); err != nil {
		level = slog.LevelInfo // Validate already refused anything else
	}
	return level
}

func newLogger(c config.Log, level slog.Leveler, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(c.Format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
