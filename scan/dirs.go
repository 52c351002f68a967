package scan

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// offerDir queues a directory job when a DirAnalyzer recognises the
// directory's layout. It reads only the directory listing.
func (s *Scanner) offerDir(p string, fsys rootFS, jobs chan<- job) {
	if len(s.opts.DirAnalyzers) == 0 {
		return
	}
	entries, err := fsys.ReadDir(".")
	if err != nil {
		return // the walker reports unreadable directories itself
	}
	d := &analyzer.Dir{Entries: entries, FS: fsys}
	for _, da := range s.opts.DirAnalyzers {
		if da.MatchDir(d) {
			jobs <- job{display: filepath.Clean(p), dir: d, dirA: da}
			return
		}
	}
}

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

// summarise folds into every directory artifact the verdicts of the
// artifacts below it, so that a repository's verdict is never better than
// its worst file.
func summarise(arts []report.Artifact, dirs []int) {
	if len(dirs) == 0 {
		return
	}
	type entry struct {
		path string
		i    int
	}
	sorted := make([]entry, len(arts))
	for i := range arts {
		sorted[i] = entry{arts[i].Path, i}
	}
	sort.Slice(sorted, func(a, b int) bool { return sorted[a].path < sorted[b].path })
	for _, di := range dirs {
		d := &arts[di]
		prefix := d.Path + string(filepath.Separator)
		lo := 0
		if d.Path != "." {
			lo = sort.Search(len(sorted), func(k int) bool { return sorted[k].path >= prefix })
		}
		worst, sev := report.Clean, report.SeverityInfo
		worstPath := ""
		counts := map[report.Verdict]int{}
		files := 0
		for k := lo; k < len(sorted); k++ {
			if d.Path != "." && !strings.HasPrefix(sorted[k].path, prefix) {
				break
			}
			a := &arts[sorted[k].i]
			if sorted[k].i == di {
				continue
			}
			files++
			counts[a.Verdict]++
			if a.Verdict > worst {
				worst, worstPath = a.Verdict, a.Path
			}
			if m, ok := a.MaxSeverity(); ok && a.Verdict != report.Clean && m > sev {
				sev = m
			}
		}
		if d.Properties == nil {
			d.Properties = map[string]string{}
		}
		d.Properties["files"] = fmt.Sprint(files)
		if worst == report.Clean {
			continue
		}
		var parts []string
		for v := report.Malicious; v > report.Clean; v-- {
			if counts[v] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", counts[v], v))
			}
		}
		rel, err := filepath.Rel(d.Path, worstPath)
		if err != nil {
			rel = worstPath
		}
		f := rules.New(rules.RepoContents, filepath.ToSlash(rel), fmt.Sprintf("%s of %d files below this directory (worst: %s)", strings.Join(parts, ", "), files, filepath.ToSlash(rel)))
		f.Verdict, f.Severity = worst, sev
		d.Add(f)
	}
}

// attribute copies each finding a directory analyser made about a file
// below the directory (its location names the file) to that file's own
// artifact, so no file is reported cleaner than what was found in it: the
// modeling code a repository loads carries its exec payload too, not just
// the repository.
func attribute(arts []report.Artifact, dirs []int) {
	if len(dirs) == 0 {
		return
	}
	isDir := make(map[int]bool, len(dirs))
	for _, i := range dirs {
		isDir[i] = true
	}
	index := make(map[string]int, len(arts))
	for i := range arts {
		if !isDir[i] {
			index[arts[i].Path] = i
		}
	}
	for _, di := range dirs {
		d := arts[di]
		for _, f := range d.Findings {
			// The location stays as written ("sub/modeling.py:3"): it
			// names the file and line, which SARIF turns into a region.
			file, _ := report.FileLine(f.Location)
			if file == "" || strings.HasPrefix(file, "..") {
				continue
			}
			i, ok := index[filepath.Join(d.Path, filepath.FromSlash(file))]
			if !ok || hasFinding(&arts[i], f) {
				continue
			}
			arts[i].Add(f)
		}
	}
}

func hasFinding(a *report.Artifact, f report.Finding) bool {
	for _, g := range a.Findings {
		if g.Rule == f.Rule && g.Message == f.Message {
			return true
		}
	}
	return false
}
