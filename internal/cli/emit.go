package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aigis-dev/aigis/internal/output"
	"github.com/aigis-dev/aigis/report"
)

// reportFlags are the output flags every report-producing verb shares.
type reportFlags struct {
	output string
	file   string
	failOn string
}

// addReportFlags registers -o, --file and --fail-on with the verb's default
// threshold ("none" never fails on findings).
func addReportFlags(cmd *cobra.Command, rf *reportFlags, defaultFailOn string, extraFormats ...string) {
	formats := append(output.Formats(), extraFormats...)
	cmd.Flags().StringVarP(&rf.output, "output", "o", "table", "output format: "+strings.Join(formats, "|"))
	cmd.Flags().StringVar(&rf.file, "file", "", "write the report to this file instead of stdout")
	cmd.Flags().StringVar(&rf.failOn, "fail-on", defaultFailOn, "exit 1 when a finding is at or above this severity: info|low|medium|high|critical|none")
}

// threshold parses --fail-on; ok is false for "none".
func (rf *reportFlags) threshold() (report.Severity, bool, error) {
	if strings.EqualFold(rf.failOn, "none") || rf.failOn == "" {
		return 0, false, nil
	}
	s, err := report.ParseSeverity(rf.failOn)
	if err != nil {
		return 0, false, withCode(ExitError, fmt.Errorf("--fail-on: %w", err))
	}
	return s, true, nil
}

// validate checks the flags before any work starts, so a typo costs
// nothing.
func (rf *reportFlags) validate() error {
	if _, _, err := rf.threshold(); err != nil {
		return err
	}
	if _, err := output.Lookup(rf.output); err != nil {
		return withCode(ExitError, err)
	}
	return nil
}

// emit writes the report and turns --fail-on into the exit code.
func emit(env *Env, rf *reportFlags, r *report.Report) error {
	r.Tool = "aigis"
	r.Version = Version
	r.Finish()
	enc, err := output.Lookup(rf.output)
	if err != nil {
		return withCode(ExitError, err)
	}
	var w io.Writer = env.Stdout
	if rf.file != "" {
		f, err := os.Create(rf.file)
		if err != nil {
			return withCode(ExitError, err)
		}
		defer f.Close()
		w = f
	}
	if err := enc.Encode(w, r); err != nil {
		return withCode(ExitError, fmt.Errorf("writing %s output: %w", rf.output, err))
	}
	th, on, _ := rf.threshold()
	if on && r.Fails(th) {
		return withCode(ExitFindings, nil)
	}
	return nil
}
