package cli

import (
	"context"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
	"github.com/aigis-dev/aigis/scan"
)

func init() { register(newScanCmd) }

func newScanCmd(env *Env) *cobra.Command {
	var rf reportFlags
	var workers int
	var timeout time.Duration
	var maxDepth int
	maxExpanded := byteSize(analyzer.DefaultLimits().MaxExpanded)
	var noProgress bool
	var weightsFlag bool
	var base string
	cmd := &cobra.Command{
		Use:   "scan [flags] PATH...",
		Short: "Find malicious or unsafe content in model files, archives and model repositories",
		Long: `Scan files and directories (recursively) for content that runs code or
touches the host when a model is loaded. Formats are recognised by content,
never by extension, and nothing is ever unpickled, imported or rendered.

Every regular file gets one verdict: clean, suspicious, malicious, invalid,
inconclusive or unsupported. Only clean means "checked completely, nothing
risky".`,
		Example: `  aigis scan model.pt
  aigis scan -o json ./models > report.json
  aigis scan --fail-on high -o sarif . > aigis.sarif`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := rf.validate(); err != nil {
				return err
			}
			if err := checkTargets(args...); err != nil {
				return err
			}
			args = distinctTargets(args)
			// Nearly every scan meets a pickle: load the policy on
			// another core while the walk starts.
			go rules.Pickle()
			limits := analyzer.DefaultLimits()
			limits.Timeout = timeout
			limits.MaxDepth = maxDepth
			limits.MaxExpanded = int64(maxExpanded)
			prog := newProgress(env.Stderr, !noProgress)
			opts := scan.Options{Workers: workers, Limits: limits, Weights: weightsFlag, CPU: analyzer.NewCPU(workers)}
			opts.OnArtifact = prog.artifact
			engine := scan.New(opts)
			if base != "" {
				if err := checkBase(cmd.Context(), engine, base); err != nil {
					return withCode(ExitError, err)
				}
			}
			out, err := rf.open(env, "scan")
			if err != nil {
				return err
			}
			// Each artifact is written as soon as the walk order allows:
			// the report streams, whatever the number of files.
			err = prog.run(cmd, func(ctx context.Context) error {
				return engine.Stream(ctx, args, func(a *report.Artifact) error {
					if base != "" {
						compareBase(ctx, engine, opts.CPU, base, a)
					}
					return out.Artifact(a)
				})
			})
			if err != nil {
				out.abort()
				return err
			}
			return out.Close()
		},
	}
	addReportFlags(cmd, &rf, "medium")
	cmd.Flags().IntVar(&workers, "workers", runtime.NumCPU(), "files analysed in parallel")
	cmd.Flags().DurationVar(&timeout, "timeout", analyzer.DefaultLimits().Timeout, "time budget per file; a file over budget is inconclusive")
	cmd.Flags().IntVar(&maxDepth, "max-depth", analyzer.DefaultLimits().MaxDepth, "deepest container nesting analysed")
	cmd.Flags().Var(&maxExpanded, "max-expanded", "bytes decompression may produce per file (16GiB, 512MiB, ...)")
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "never show progress on stderr")
	cmd.Flags().BoolVar(&weightsFlag, "weights", false, "also read tensor data: NaN/Inf, outliers, embedded files, payloads in low mantissa bits (reads every byte)")
	cmd.Flags().StringVar(&base, "base", "", "compare every model file scanned with this base model, tensor by tensor (see aigis diff)")
	return cmd
}
