package scan

import (
	"context"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/report"
)

// scanDir runs a DirAnalyzer. Like ScanFile it never fails: problems are
// findings and a panic is inconclusive.
func (s *Scanner) scanDir(ctx context.Context, j job) (a report.Artifact) {
	a = report.Artifact{Path: j.display, Format: j.dirA.Name()}
	budget := analyzer.NewBudget(s.opts.Limits)
	budget.Weights = s.opts.Weights
	budget.CPU = s.opts.CPU
	defer budget.Done()
	j.dir.Budget = budget
	ctx, cancel := context.WithTimeout(ctx, s.opts.Limits.Timeout)
	defer cancel()
	res := analyzer.NewResult(s.Dispatch)
	res.SetFormat(j.dirA.Name())
	guard(res, j.display, "directory analyser", func() error { return j.dirA.AnalyzeDir(ctx, j.dir, res) },
		func(err error) { res.Problem(ctx, -1, "reading directory", err) })
	fill(&a, res)
	return a
}
