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
)

// Exit codes, documented in README.md.
const (
	ExitOK       = 0 // nothing fails the gate
	ExitFindings = 1 // the gate failed: findings at or above --fail-on, incomplete analysis, a failed verification
	ExitError    = 2 // usage or internal error, unreadable target
)

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

// Env is what every verb gets: the streams, the environment and the
// global flags.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string

	verbose int  // -v: say which configuration is in use
	quiet   bool // -q: no warnings or progress on stderr
}

// warnf writes a warning on stderr unless -q.
func (e *Env) warnf(format string, a ...any) {
	if !e.quiet {
		fmt.Fprintf(e.Stderr, "aigis: warning: "+format+"\n", a...)
	}
}

// infof writes a -v message on stderr.
func (e *Env) infof(format string, a ...any) {
	if e.verbose > 0 && !e.quiet {
		fmt.Fprintf(e.Stderr, "aigis: "+format+"\n", a...)
	}
}

// Main runs aigis with args and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(&Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv}, args)
}

func run(env *Env, args []string) int {
	root := newRoot(env)
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(env.Stderr, "aigis:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(env.Stderr, "aigis:", err)
	return ExitError
}

func newRoot(env *Env) *cobra.Command {
	var configPath string
	root := &cobra.Command{
		Use:   "aigis",
		Short: "AI supply-chain security: scan, sign, verify, deps and bom for models",
		Long: `aigis secures the AI supply chain from a laptop to CI.

It never executes the content it inspects: model files are parsed by
bounded static readers, never loaded.

Configuration comes from flags, AIGIS_<VERB>_<FLAG> and AIGIS_<FLAG>
variables, and one YAML file (--config, $AIGIS_CONFIG or the user config
dir's aigis/config.yaml), never from the directory being checked.`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			cfg, err := loadConfig(root, configPath, env.Getenv, args)
			if err != nil {
				return withCode(ExitError, err)
			}
			sources, err := applyDefaults(cmd, env, cfg)
			if err != nil {
				return err
			}
			if cfg != nil {
				env.infof("config %s (from %s)", cfg.path, cfg.origin)
			} else {
				env.infof("no config file")
			}
			for _, s := range sources {
				env.infof("%s", s)
			}
			return nil
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	pf := root.PersistentFlags()
	pf.StringVar(&configPath, "config", "", "config file (default $AIGIS_CONFIG, else the user config dir's aigis/config.yaml; \"none\" reads none)")
	pf.CountVarP(&env.verbose, "verbose", "v", "say which config file and settings are in use")
	pf.BoolVarP(&env.quiet, "quiet", "q", false, "no progress or warnings on stderr (errors still)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withCode(ExitError, fmt.Errorf("%s\nRun '%s --help' for usage", flagMessage(err), c.CommandPath()))
	})
	for _, v := range verbs {
		root.AddCommand(v(env))
	}
	return root
}

// flagMessage rewrites pflag's errors so that no Go function or type
// name reaches the user: `invalid argument "x" for "--workers" flag:
// strconv.ParseInt: parsing "x": invalid syntax` becomes `invalid
// argument "x" for "--workers" flag: want a number`.
func flagMessage(err error) string {
	s := err.Error()
	hints := []struct{ marker, hint string }{
		{"strconv.ParseBool", "want true or false"},
		{"strconv.Parse", "want a number"},
		{"time: ", "want a duration such as 90s, 5m or 1h"},
	}
	for _, h := range hints {
		if i := strings.Index(s, h.marker); i >= 0 {
			head := strings.TrimSuffix(strings.TrimSpace(s[:i]), ":")
			if head == "" {
				return h.hint
			}
			return head + ": " + h.hint
		}
	}
	return s
}
