package cli

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/aigis-dev/aigis/internal/monitor"
	"github.com/aigis-dev/aigis/internal/monitor/analysis"
)

func init() { register(newMonitorCmd) }

func newMonitorCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "monitor",
		Short: "Watch a model's traffic for backdoor triggers, model swaps, tampering and drift",
		Long: `Runtime monitoring of a served model.

  aigis monitor proxy --upstream URL     a reverse proxy in front of an
                                         inference server that records the
                                         features of each request off the
                                         hot path and runs the detectors
  aigis monitor analyze BASELINE LOG...  the same detectors over logged
                                         traffic (JSON Lines)

Every detector learns from a baseline window of the same model's traffic
and reports its statistic, threshold and p-value (or score) with each
alert: label, confidence, entropy and input drift; the signature of a
backdoor trigger (confident answers of one class for inputs unlike the
baseline); a model swap (calibration or fingerprint change); canaries;
the model files' OMS signature (proxy); and, for LLM traffic, response
length, refusal rate, language and tokens that appear suddenly.`,
	}
	cmd.AddCommand(newMonitorAnalyzeCmd(env), newMonitorProxyCmd(env))
	return cmd
}

// detectorFlags are the thresholds analyze and proxy share.
type detectorFlags struct {
	window, triggerWindow, horizon, minSupport int
	alpha, psi, js, wasserstein, triggerP      float64
	canaryTolerance                            float64
	canaries                                   string
	allowContent                               bool
}

func addDetectorFlags(cmd *cobra.Command, f *detectorFlags) {
	d := monitor.DefaultConfig()
	fl := cmd.Flags()
	fl.IntVar(&f.window, "window", d.Window, "requests per window of the drift tests")
	fl.IntVar(&f.triggerWindow, "trigger-window", d.TriggerWindow, "sliding window of the trigger detector, in requests")
	fl.Float64Var(&f.alpha, "alpha", d.Alpha, "family-wise false-alarm level over --horizon windows (Evidently's p < 0.05, split among the tests)")
	fl.IntVar(&f.horizon, "horizon", d.Horizon, "number of windows --alpha covers")
	fl.Float64Var(&f.psi, "psi", d.PSI, "PSI threshold on windows above 1,000 requests")
	fl.Float64Var(&f.js, "js", d.JS, "Jensen-Shannon distance threshold on windows above 1,000 requests")
	fl.Float64Var(&f.wasserstein, "wasserstein", d.Wasserstein, "normed Wasserstein distance threshold on windows above 1,000 requests")
	fl.Float64Var(&f.triggerP, "trigger-p", d.TriggerP, "input p-value below which an input counts as unlike the baseline (trigger detector)")
	fl.IntVar(&f.minSupport, "min-support", d.MinSupport, "fewest requests behind a trigger or token alert")
	fl.Float64Var(&f.canaryTolerance, "canary-tolerance", d.CanaryTolerance, "largest difference allowed between a canary's confidences or scores and the expected ones")
	fl.StringVar(&f.canaries, "canaries", "", "YAML or JSON file of canaries: name -> {label, confidence, probs, model, text_sha256}")
	fl.BoolVar(&f.allowContent, "allow-content", false, "let alerts quote response tokens (otherwise named by a digest)")
}

func (f *detectorFlags) config() (monitor.Config, error) {
	c := monitor.DefaultConfig()
	switch {
	case f.window < 10:
		return c, fmt.Errorf("--window %d: want at least 10 requests", f.window)
	case f.triggerWindow < 10:
		return c, fmt.Errorf("--trigger-window %d: want at least 10 requests", f.triggerWindow)
	case f.alpha <= 0 || f.alpha >= 1:
		return c, fmt.Errorf("--alpha %g: want a level between 0 and 1", f.alpha)
	case f.horizon < 1:
		return c, fmt.Errorf("--horizon %d: want at least 1 window", f.horizon)
	case f.psi <= 0 || f.js <= 0 || f.wasserstein <= 0:
		return c, fmt.Errorf("--psi, --js and --wasserstein must be positive")
	case f.triggerP <= 0 || f.triggerP >= 1:
		return c, fmt.Errorf("--trigger-p %g: want a p-value between 0 and 1", f.triggerP)
	case f.canaryTolerance < 0:
		return c, fmt.Errorf("--canary-tolerance %g: want 0 or more", f.canaryTolerance)
	case f.minSupport < 1:
		return c, fmt.Errorf("--min-support %d: want at least 1", f.minSupport)
	}
	c.Window, c.TriggerWindow, c.Alpha, c.Horizon = f.window, f.triggerWindow, f.alpha, f.horizon
	c.PSI, c.JS, c.Wasserstein, c.TriggerP, c.MinSupport = f.psi, f.js, f.wasserstein, f.triggerP, f.minSupport
	c.AllowContent = f.allowContent
	c.CanaryTolerance = f.canaryTolerance
	if f.canaries != "" {
		b, err := readBounded(f.canaries, 16<<20)
		if err != nil {
			return c, fmt.Errorf("--canaries: %w", err)
		}
		c.Canaries = map[string]monitor.Expect{}
		if err := yaml.Unmarshal(b, &c.Canaries); err != nil {
			return c, fmt.Errorf("--canaries %s: %w", f.canaries, yamlMessage(err))
		}
	}
	return c, nil
}

func newMonitorAnalyzeCmd(env *Env) *cobra.Command {
	var df detectorFlags
	var output, file string
	var maxBaseline int
	cmd := &cobra.Command{
		Use:   "analyze [flags] BASELINE TRAFFIC...",
		Short: "Run the monitor's detectors over logged traffic",
		Long: `Fit the detectors on BASELINE, a traffic log of the model behaving as
expected, then run them over the TRAFFIC logs, in order, as one stream.

A log is JSON Lines (gzip accepted), one request per line:
  {"id", "time", "model", "system_fingerprint", "label", "confidence",
   "probs": [...], "input": [...] or "text", "output": "generated text",
   "canary": "name"}
Every field is optional; the detectors that need a missing field are
skipped and the report says so. aigis monitor proxy --log writes this
format. Fields a detector must not read, such as ground truth ("true",
"triggered"), are ignored.

Output: a table, JSON, or one self-contained HTML page with a plot of
each detector over time (-o html --file report.html).

Exit status: 0 no alert, 1 at least one alert, 2 usage or input error.`,
		Example: `  aigis monitor analyze baseline.jsonl traffic.jsonl
  aigis monitor analyze -o html --file report.html baseline.jsonl traffic.jsonl
  aigis monitor analyze -o json --window 500 baseline.jsonl day1.jsonl.gz day2.jsonl.gz`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(analysis.Formats, output) {
				return withCode(ExitError, fmt.Errorf("unknown output format %q (want one of %s)", output, strings.Join(analysis.Formats, ", ")))
			}
			cfg, err := df.config()
			if err != nil {
				return withCode(ExitError, err)
			}
			if err := checkTargets(args...); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := analysis.Analyze(ctx, args[0], args[1:], analysis.Options{
				Config: cfg, MaxBaseline: maxBaseline, Tool: "aigis", Version: toolVersion(),
			})
			if err != nil {
				return withCode(ExitError, err)
			}
			if err := writeReport(env, file, func(w io.Writer) error { return analysis.Write(w, output, res) }); err != nil {
				return withCode(ExitError, err)
			}
			if len(res.Alerts) > 0 {
				return withCode(ExitFindings, nil)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: "+strings.Join(analysis.Formats, "|"))
	cmd.Flags().StringVar(&file, "file", "", "write the report to this file instead of stdout")
	cmd.Flags().IntVar(&maxBaseline, "max-baseline", 100_000, "most baseline requests read")
	addDetectorFlags(cmd, &df)
	return cmd
}

// writeReport writes a report to stdout, or to file through a temporary
// file beside it, so that a report that stops half way never replaces a
// whole one.
func writeReport(env *Env, file string, write func(io.Writer) error) error {
	if file == "" {
		return write(env.Stdout)
	}
	f, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), file)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
