package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Configuration comes from flags, AIGIS_* variables and one YAML file:
// --config, else $AIGIS_CONFIG, else <user config dir>/aigis/config.yaml.
// Never from the current directory or anything being checked: a model
// repository that carried an .aigis.yaml with "fail-on: none" would turn
// the gate off for whoever scans it. A config file that lies inside a
// target of the run is refused outright, whatever it says.

// maxConfigSize bounds the config file; it is input like any other.
const maxConfigSize = 1 << 20

// noConfig as --config or $AIGIS_CONFIG reads no file at all.
const noConfig = "none"

// config is the file in use, if any.
type config struct {
	path   string // as found
	origin string // which source named it
	data   map[string]any
}

// findConfig names the config file to read: the flag, the variable, or the
// user config dir's file when it exists. explicit paths must exist.
func findConfig(flag string, getenv func(string) string) (path, origin string, explicit bool) {
	switch {
	case flag != "":
		return flag, "--config", true
	case getenv("AIGIS_CONFIG") != "":
		return getenv("AIGIS_CONFIG"), "$AIGIS_CONFIG", true
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", "", false
	}
	return filepath.Join(dir, "aigis", "config.yaml"), "the user config dir", false
}

// loadConfig reads and checks the config file. targets are the paths the
// verb will check: a config file inside one of them is refused.
func loadConfig(root *cobra.Command, flag string, getenv func(string) string, targets []string) (*config, error) {
	p, origin, explicit := findConfig(flag, getenv)
	if p == "" || p == noConfig {
		return nil, nil
	}
	b, err := readBounded(p, maxConfigSize)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", p, err)
	}
	if t, ok := insideTarget(p, targets); ok {
		return nil, fmt.Errorf("config %s (from %s) lies inside %s, which this run checks: what is being checked may not configure the check; pass --config with a file outside it, or --config none", p, origin, t)
	}
	data := map[string]any{}
	if err := yaml.Unmarshal(b, &data); err != nil {
		return nil, fmt.Errorf("config %s: %w", p, yamlMessage(err))
	}
	if err := checkConfigKeys(root, data); err != nil {
		return nil, fmt.Errorf("config %s: %w", p, err)
	}
	return &config{path: p, origin: origin, data: data}, nil
}

// insideTarget reports the target that contains p (or is p), comparing
// paths with every symbolic link resolved.
func insideTarget(p string, targets []string) (string, bool) {
	rp, err := resolve(p)
	if err != nil {
		return "", false
	}
	for _, t := range targets {
		rt, err := resolve(t)
		if err != nil {
			continue
		}
		rel, err := filepath.Rel(rt, rp)
		if err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel) {
			return t, true
		}
	}
	return "", false
}

func resolve(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r, nil
	}
	return abs, nil
}

func readBounded(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if st.Size() > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	b := make([]byte, st.Size())
	_, err = f.ReadAt(b, 0)
	if err != nil && st.Size() > 0 {
		return nil, err
	}
	return b, nil
}

// yamlMessage drops the library's prefix from a YAML error.
func yamlMessage(err error) error {
	return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
}

// sectionName is a verb's section in the config file and its part of the
// environment variable names: "scan", "db_import".
func sectionName(cmd *cobra.Command) string {
	var parts []string
	for c := cmd; c != nil && c.HasParent(); c = c.Parent() {
		parts = append([]string{c.Name()}, parts...)
	}
	return strings.Join(parts, "_")
}

// configurable lists the flags a config file or variable may set.
func configurable(f *pflag.Flag) bool {
	switch f.Name {
	case "config", "help", "version":
		return false
	}
	return f.Annotations[commandLineOnlyKey] == nil
}

const commandLineOnlyKey = "aigis/command-line-only"

// commandLineOnly marks flags that only the person running the verb may
// set, by name on the command line: the ones that loosen verify's check
// (a variable or a shared config meant for sign must not make verify
// accept files nobody signed) and keygen's --force. A variable or config
// key for them is refused like an unknown key.
func commandLineOnly(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		if err := cmd.Flags().SetAnnotation(n, commandLineOnlyKey, []string{"true"}); err != nil {
			panic("cli: no flag " + n)
		}
	}
}

// checkConfigKeys refuses anything the file cannot mean: a section that is
// no verb, a key that is no flag of its verb (or, at the top level, of any
// verb), a section where a value belongs and the other way round.
func checkConfigKeys(root *cobra.Command, data map[string]any) error {
	sections := map[string]*cobra.Command{}
	anyFlag := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() && c.HasParent() {
			sections[sectionName(c)] = c
			c.Flags().VisitAll(func(f *pflag.Flag) {
				if configurable(f) {
					anyFlag[f.Name] = true
				}
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) {
		if configurable(f) {
			anyFlag[f.Name] = true
		}
	})
	var errs []string
	for _, k := range sortedKeys(data) {
		v := data[k]
		sec, isMap := v.(map[string]any)
		if c, ok := sections[k]; ok {
			if !isMap {
				errs = append(errs, fmt.Sprintf("%s: a verb's section must be a mapping of its flags", k))
				continue
			}
			for _, fk := range sortedKeys(sec) {
				f := c.Flags().Lookup(fk)
				switch {
				case f != nil && f.Annotations[commandLineOnlyKey] != nil:
					errs = append(errs, fmt.Sprintf("%s.%s: %s takes --%s only from the command line", k, fk, c.CommandPath(), fk))
				case f == nil || !configurable(f):
					errs = append(errs, fmt.Sprintf("%s.%s: %s has no such flag", k, fk, c.CommandPath()))
				case isMapping(sec[fk]):
					errs = append(errs, fmt.Sprintf("%s.%s: want a value, not a mapping", k, fk))
				}
			}
			continue
		}
		switch {
		case !anyFlag[k]:
			errs = append(errs, fmt.Sprintf("%s: no verb has this flag and no verb has this name", k))
		case isMap:
			errs = append(errs, fmt.Sprintf("%s: want a value, not a mapping", k))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("unknown or misplaced keys:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

func isMapping(v any) bool { _, ok := v.(map[string]any); return ok }

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// value looks flag up under the verb's section, then at the top level.
func (c *config) value(section, flag string) (string, bool) {
	if c == nil {
		return "", false
	}
	if sec, ok := c.data[section].(map[string]any); ok {
		if v, ok := sec[flag]; ok {
			return scalar(v), true
		}
	}
	if v, ok := c.data[flag]; ok && !isMapping(v) {
		return scalar(v), true
	}
	return "", false
}

func scalar(v any) string {
	if l, ok := v.([]any); ok {
		parts := make([]string, len(l))
		for i, x := range l {
			parts[i] = fmt.Sprint(x)
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

// applyDefaults fills every flag the user did not set from, in order, the
// environment (AIGIS_<VERB>_<FLAG>, then AIGIS_<FLAG>) and the config
// file ("<verb>: {flag: value}", then top-level "flag: value"). An empty
// variable counts as unset: an unset $SEVERITY in a CI script must not
// clear --fail-on. It returns where each value came from, for -v.
func applyDefaults(cmd *cobra.Command, env *Env, cfg *config) ([]string, error) {
	section := sectionName(cmd)
	var firstErr error
	var sources []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		key := strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		// A command-line-only flag named for this verb is refused; the
		// general variable is meant for the verbs that take it from there.
		if name := "AIGIS_" + strings.ToUpper(section) + "_" + key; f.Annotations[commandLineOnlyKey] != nil && env.Getenv(name) != "" && firstErr == nil {
			firstErr = withCode(ExitError, fmt.Errorf("$%s: %s takes --%s only from the command line", name, cmd.CommandPath(), f.Name))
		}
		if f.Changed || !configurable(f) || firstErr != nil {
			return
		}
		var val, from string
		for _, name := range []string{"AIGIS_" + strings.ToUpper(section) + "_" + key, "AIGIS_" + key} {
			if v := env.Getenv(name); v != "" {
				val, from = v, "$"+name
				break
			}
		}
		if from == "" {
			if v, ok := cfg.value(section, f.Name); ok {
				val, from = v, cfg.path
			}
		}
		if from == "" {
			return
		}
		if err := f.Value.Set(val); err != nil {
			firstErr = withCode(ExitError, fmt.Errorf("invalid value %q for --%s from %s: %v", val, f.Name, from, flagMessage(err)))
			return
		}
		sources = append(sources, fmt.Sprintf("--%s=%s from %s", f.Name, val, from))
	})
	return sources, firstErr
}
