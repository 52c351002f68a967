package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/aigis-dev/aigis/internal/deps"
	"github.com/aigis-dev/aigis/internal/osvdb"
	"github.com/aigis-dev/aigis/report"
)

func init() { register(newDepsCmd) }

// staleAfter is when deps warns that the data is old (its newest record
// was modified longer ago): new malicious packages are published every
// day.
const staleAfter = 7 * 24 * time.Hour

func newDepsCmd(env *Env) *cobra.Command {
	var rf reportFlags
	var db string
	var skipVulns, noProgress bool
	cmd := &cobra.Command{
		Use:   "deps [flags] PATH...",
		Short: "Find known-vulnerable, malicious and typosquatted dependencies of ML projects",
		Long: `Find the manifests and lockfiles under each PATH (requirements, poetry, uv,
Pipfile, pdm, pylock, pyproject, conda environment.yml, go.mod, package-lock,
Cargo.lock, ...) and check every dependency:

  - locked versions against the offline OSV database (aigis db import/update),
    grouped by alias, with severity and fixed versions; MAL- records are
    malicious packages (critical);
  - names that imitate popular ML packages (typosquats, impersonation);
  - extra package indexes that allow dependency confusion;
  - requirements that are not locked (reported as such, not as a false
    vulnerability of their lowest allowed version);
  - advisories that the model files in the same tree exercise (torch below
    2.6 with pickle checkpoints, llama-cpp-python with GGUF chat templates,
    Keras below 3.9 with .keras files, onnx below 1.16 with external data).

Nothing is installed, resolved or fetched; no model is loaded.`,
		Example: `  aigis db import ~/osv && aigis deps .
  aigis deps -o json ./project > deps.json
  aigis deps --fail-on high -o sarif . > deps.sarif
  aigis deps --skip-vulns .          # name, index and model checks only, no database`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := rf.validate(); err != nil {
				return err
			}
			if err := checkTargets(args...); err != nil {
				return err
			}
			args = distinctTargets(args)
			opt := deps.Options{}
			if !skipVulns {
				p, err := dbPath(db)
				if err != nil {
					return err
				}
				d, err := osvdb.Open(p)
				if err != nil {
					return withCode(ExitError, fmt.Errorf("%w (or pass --skip-vulns to run only the checks that need no database)", err))
				}
				defer d.Close()
				warnStale(env, d, time.Now())
				opt.DB = d
			}
			prog := newProgress(env.Stderr, !noProgress)
			opt.OnArtifact = prog.artifact
			var rep *report.Report
			err := prog.run(cmd, func(ctx context.Context) (err error) {
				rep, err = deps.Scan(ctx, args, opt)
				return err
			})
			if err != nil {
				return err
			}
			return emit(env, &rf, rep)
		},
	}
	addReportFlags(cmd, &rf, "medium")
	addDBFlag(cmd, &db)
	cmd.Flags().BoolVar(&skipVulns, "skip-vulns", false, "do not match against the vulnerability database (no database needed)")
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "never show progress on stderr")
	return cmd
}

// warnStale judges the data by its newest record, not by when it was
// imported: importing an old export again does not make it fresh.
func warnStale(env *Env, d *osvdb.DB, now time.Time) {
	for _, s := range d.Status() {
		age, ok := s.DataAge(now)
		switch {
		case !ok:
			env.warnf("the %s advisories carry no modified dates, so how old they are is unknown; run 'aigis db update'", s.Ecosystem)
		case age > staleAfter:
			env.warnf("the %s advisories are stale: the newest was modified %d days ago (%s); run 'aigis db update'", s.Ecosystem, int(age.Hours()/24), s.Newest)
		}
	}
}
