// Package cli wires aigis verbs to cobra. It stays thin: every verb parses
// flags, calls a library package and hands a report.Report to the shared
// emit function. Verbs register themselves from their own file with
// register, so adding a verb touches no other file.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes, documented in README.md.
const (
	ExitOK       = 0 // nothing at or above --fail-on
	ExitFindings = 1 // findings at or above --fail-on (or a failed verification)
	ExitError    = 2 // usage or internal error
)

// Version is set at build time with -ldflags "-X ...cli.Version=v1.2.3".
var Version = "dev"

// exitError carries an exit code through cobra without printing twice.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// withCode makes err exit with code; a nil err exits silently.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

type verb func(env *Env) *cobra.Command

var verbs []verb

// register adds a verb; call it from an init function in the verb's file.
func register(v verb) { verbs = append(verbs, v) }

// Env is what every verb gets: the streams and the configuration sources.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	config map[string]any
}

// Main runs aigis with args and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(&Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv}, args)
}

func run(env *Env, args []string) int {
	stdout, stderr, stdin := env.Stdout, env.Stderr, env.Stdin
	root := newRoot(env)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "aigis:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "aigis:", err)
	return ExitError
}

func newRoot(env *Env) *cobra.Command {
	var configPath string
	root := &cobra.Command{
		Use:   "aigis",
		Short: "AI supply-chain security: scan, sign, verify, deps and bom for models",
		Long: `aigis secures the AI supply chain from a laptop to CI.

It never executes the content it inspects: model files are parsed by
bounded static readers, never loaded.`,
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(configPath, env.Getenv)
			if err != nil {
				return withCode(ExitError, err)
			}
			env.config = cfg
			return applyDefaults(cmd, env)
		},
	}
	root.PersistentFlags().StringVar(&configPath, "config", "", "config file (default: $AIGIS_CONFIG, ./.aigis.yaml or the user config dir's aigis/config.yaml)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withCode(ExitError, fmt.Errorf("%w\nRun '%s --help' for usage", err, c.CommandPath()))
	})
	for _, v := range verbs {
		root.AddCommand(v(env))
	}
	return root
}

// applyDefaults fills every flag the user did not set from, in order, the
// environment (AIGIS_<VERB>_<FLAG>, then AIGIS_<FLAG>) and the config file
// ("<verb>: {flag: value}", then top-level "flag: value").
func applyDefaults(cmd *cobra.Command, env *Env) error {
	verbName := ""
	for c := cmd; c != nil && c.HasParent(); c = c.Parent() {
		if verbName == "" {
			verbName = c.Name()
		} else {
			verbName = c.Name() + "_" + verbName
		}
	}
	var firstErr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "config" || f.Name == "help" || firstErr != nil {
			return
		}
		key := strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		var val string
		var found bool
		for _, name := range []string{"AIGIS_" + strings.ToUpper(verbName) + "_" + key, "AIGIS_" + key} {
			if v := env.Getenv(name); v != "" {
				val, found = v, true
				break
			}
		}
		if !found {
			val, found = configValue(env.config, verbName, f.Name)
		}
		if !found {
			return
		}
		if err := f.Value.Set(val); err != nil {
			firstErr = withCode(ExitError, fmt.Errorf("invalid value %q for --%s from environment or config: %v", val, f.Name, err))
		}
	})
	return firstErr
}
