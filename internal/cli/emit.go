package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/aigis-dev/aigis/internal/output"
	"github.com/aigis-dev/aigis/report"
)

// reportFlags are the output and gate flags the report-producing verbs
// share.
type reportFlags struct {
	output          string
	file            string
	failOn          string
	allowIncomplete bool
	// fixed is the gate of a verb without --fail-on (verify, sign).
	fixed *report.Gate
}

// addOutputFlags registers -o and --file.
func addOutputFlags(cmd *cobra.Command, rf *reportFlags, extraFormats ...string) {
	formats := append(output.Formats(), extraFormats...)
	cmd.Flags().StringVarP(&rf.output, "output", "o", "table", "output format: "+strings.Join(formats, "|"))
	cmd.Flags().StringVar(&rf.file, "file", "", "write the report to this file instead of stdout")
}

// addGateFlags registers --fail-on, with the verb's default threshold, and
// --allow-incomplete.
func addGateFlags(cmd *cobra.Command, rf *reportFlags, defaultFailOn string) {
	cmd.Flags().StringVar(&rf.failOn, "fail-on", defaultFailOn, "exit 1 when a finding is at or above this severity: info|low|medium|high|critical, or none")
	cmd.Flags().BoolVar(&rf.allowIncomplete, "allow-incomplete", false, "let invalid, inconclusive and unsupported files pass the gate (they fail it otherwise, whatever --fail-on says)")
}

// addReportFlags registers the output and the gate flags.
func addReportFlags(cmd *cobra.Command, rf *reportFlags, defaultFailOn string) {
	addOutputFlags(cmd, rf)
	addGateFlags(cmd, rf, defaultFailOn)
}

// gate parses --fail-on. An empty or unknown value is a usage error: an
// unset $SEVERITY in a CI script must not turn the gate off.
func (rf *reportFlags) gate() (report.Gate, error) {
	if rf.fixed != nil {
		return *rf.fixed, nil
	}
	g := report.Gate{AllowIncomplete: rf.allowIncomplete}
	switch {
	case strings.TrimSpace(rf.failOn) == "":
		return g, withCode(ExitError, errors.New("--fail-on is empty: want info, low, medium, high, critical or none"))
	case strings.EqualFold(rf.failOn, "none"):
		g.NoThreshold = true
		return g, nil
	}
	s, err := report.ParseSeverity(rf.failOn)
	if err != nil {
		return g, withCode(ExitError, fmt.Errorf("--fail-on: %w, or none", err))
	}
	g.Threshold = s
	return g, nil
}

// validate checks the flags before any work starts, so a typo costs
// nothing.
func (rf *reportFlags) validate() error {
	if _, err := rf.gate(); err != nil {
		return err
	}
	if err := output.Check(rf.output); err != nil {
		return withCode(ExitError, err)
	}
	return nil
}

// reportOut is a report being written, artifact by artifact, with the
// gate applied to each: the exit code comes from the report itself.
type reportOut struct {
	w      output.Writer
	file   *os.File // --file, written beside its final name until Close
	dest   string
	gate   report.Gate
	failed bool
}

// open starts the report of one verb run on stdout or --file.
func (rf *reportFlags) open(env *Env, command string) (*reportOut, error) {
	g, err := rf.gate()
	if err != nil {
		return nil, err
	}
	o := &reportOut{gate: g, dest: rf.file}
	var w io.Writer = env.Stdout
	if rf.file != "" {
		// A report that stops half way never replaces a whole one.
		f, err := os.CreateTemp(filepath.Dir(rf.file), "."+filepath.Base(rf.file)+".*")
		if err != nil {
			return nil, withCode(ExitError, err)
		}
		o.file, w = f, f
	}
	o.w, err = output.New(rf.output, w, output.Meta{Tool: "aigis", Version: toolVersion(), Command: command})
	if err != nil {
		o.abort()
		return nil, withCode(ExitError, err)
	}
	return o, nil
}

// Artifact writes one artifact and applies the gate to it.
func (o *reportOut) Artifact(a *report.Artifact) error {
	if fail, _ := o.gate.Fails(a); fail {
		o.failed = true
	}
	if err := o.w.Artifact(a); err != nil {
		return withCode(ExitError, fmt.Errorf("writing the report: %w", err))
	}
	return nil
}

// Close finishes the report; its error carries the exit code of the gate.
func (o *reportOut) Close() error {
	if err := o.w.Close(); err != nil {
		o.abort()
		return withCode(ExitError, fmt.Errorf("writing the report: %w", err))
	}
	if o.file != nil {
		err := o.file.Close()
		if err == nil {
			err = os.Rename(o.file.Name(), o.dest)
		}
		if err != nil {
			os.Remove(o.file.Name())
			return withCode(ExitError, fmt.Errorf("writing %s: %w", o.dest, err))
		}
	}
	if o.failed {
		return withCode(ExitFindings, nil)
	}
	return nil
}

// abort drops a --file report that could not be finished.
func (o *reportOut) abort() {
	if o.file != nil {
		o.file.Close()
		os.Remove(o.file.Name())
	}
}

// emit writes a whole report and turns the gate into the exit code.
func emit(env *Env, rf *reportFlags, r *report.Report) error {
	o, err := rf.open(env, r.Command)
	if err != nil {
		return err
	}
	for i := range r.Artifacts {
		if err := o.Artifact(&r.Artifacts[i]); err != nil {
			o.abort()
			return err
		}
	}
	return o.Close()
}

// checkTargets makes sure every path a verb was given exists and can be
// read: a target that cannot be read is a usage error (exit 2) in every
// verb, never an empty, passing report.
func checkTargets(paths ...string) error {
	for _, p := range paths {
		if err := readable(p); err != nil {
			return withCode(ExitError, err)
		}
	}
	return nil
}

func readable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() {
		d, err := os.Open(p)
		if err != nil {
			return err
		}
		defer d.Close()
		if _, err := d.Readdirnames(1); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: %w", p, err)
		}
		return nil
	}
	// O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

// distinctTargets drops a target named twice, and one inside another
// directory target, so that nothing is scanned (and reported) twice.
func distinctTargets(paths []string) []string {
	type target struct {
		p, abs string
		dir    bool
	}
	var ts []target
	for _, p := range paths {
		abs, err := resolve(p)
		if err != nil {
			abs = p
		}
		st, err := os.Stat(p)
		ts = append(ts, target{p, abs, err == nil && st.IsDir()})
	}
	var out []string
	for i, t := range ts {
		covered := false
		for j, u := range ts {
			if i == j {
				continue
			}
			same := u.abs == t.abs && j < i
			inside := u.dir && u.abs != t.abs && strings.HasPrefix(t.abs, strings.TrimSuffix(u.abs, string(os.PathSeparator))+string(os.PathSeparator))
			if same || inside {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, t.p)
		}
	}
	return out
}
