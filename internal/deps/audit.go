package deps

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/google/osv-scalibr/semantic"

	"github.com/aigis-dev/aigis/internal/deps/correlate"
	"github.com/aigis-dev/aigis/internal/deps/typosquat"
	"github.com/aigis-dev/aigis/internal/osvdb"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// Findings about an advisory use the advisory's id; correlations with the
// tree's model files use this prefix and the correlation's id.
const rulePrefixML = "deps-ml-"

type matcher struct {
	db    *osvdb.DB
	cache map[string][]osvdb.Record
}

func newMatcher(db *osvdb.DB) *matcher {
	return &matcher{db: db, cache: map[string][]osvdb.Record{}}
}

func (m *matcher) lookup(eco, name string) ([]osvdb.Record, error) {
	key := eco + "/" + osvdb.NormalizeName(eco, name)
	if r, ok := m.cache[key]; ok {
		return r, nil
	}
	r, err := m.db.Lookup(eco, name)
	if err == nil {
		m.cache[key] = r
	}
	return r, err
}

// audit turns one manifest into its artifact.
func (m *matcher) audit(mf *Manifest, models map[correlate.Kind][]string, siblingLocks map[string]bool) report.Artifact {
	a := report.Artifact{Path: mf.Path, Format: mf.Format, Size: mf.Size, Properties: map[string]string{}}
	if mf.Err != nil {
		a.Add(rules.New(rules.DepsManifestInvalid, "", fmt.Sprintf("%s cannot be read as %s: %v; its dependencies were not checked", mf.Path, mf.Format, mf.Err)))
		return a
	}
	locked, vulnerable := 0, 0
	noData := map[string]int{}
	seen := map[string]bool{}
	for _, p := range mf.Packages {
		key := pkgKey(p) + "@" + p.Version
		if seen[key] {
			continue // one package listed twice (platform forks of a lock)
		}
		seen[key] = true
		if p.Locked() {
			locked++
		}
		if p.Native {
			continue
		}
		if p.Ecosystem == "PyPI" {
			m.checkName(&a, mf, p)
		}
		if !p.Locked() {
			if !siblingLocks[pkgKey(p)] && !mf.Lockfile {
				m.notLocked(&a, mf, p)
			}
			continue
		}
		if m.db != nil && !m.db.HasEcosystem(p.Ecosystem) {
			noData[p.Ecosystem]++
			continue
		}
		if m.vulns(&a, mf, p, models) {
			vulnerable++
		}
	}
	for _, s := range mf.Signals {
		f := rules.New(s.Rule, lineLoc(mf, s.Line, ""), s.Message)
		f.Severity = s.Severity
		a.Add(f)
	}
	for _, eco := range sortedKeys(noData) {
		a.Add(rules.New(rules.DepsNoAdvisoryData, "", fmt.Sprintf("%d locked %s packages were not checked: the database has no %s export", noData[eco], eco, eco)))
	}
	a.Properties["packages"] = strconv.Itoa(len(seen))
	a.Properties["locked"] = strconv.Itoa(locked)
	a.Properties["vulnerable"] = strconv.Itoa(vulnerable)
	return a
}

// checkName runs the typosquat and impersonation checks on a PyPI name.
func (m *matcher) checkName(a *report.Artifact, mf *Manifest, p Package) {
	v, ok := typosquat.Check(p.Name)
	if !ok {
		return
	}
	rule, msg := rules.DepsTyposquat, fmt.Sprintf("%s looks like a typosquat of %s: %s", p.Name, v.Target, v.Reason)
	if v.Kind == typosquat.Impersonation {
		rule, msg = rules.DepsImpersonation, fmt.Sprintf("%s impersonates a trusted name: %s", p.Name, v.Reason)
	}
	a.Add(rules.New(rule, lineLoc(mf, p.Line, p.Name+"@"+p.Version), msg))
}

func (m *matcher) notLocked(a *report.Artifact, mf *Manifest, p Package) {
	sev, extra := report.SeverityInfo, ""
	if m.db != nil && m.db.HasEcosystem(p.Ecosystem) {
		if recs, err := m.lookup(p.Ecosystem, p.Name); err == nil && len(recs) > 0 {
			sev = report.SeverityLow
			extra = fmt.Sprintf("; the database has %d advisories for %s, so the version that gets installed matters", len(recs), p.Name)
		}
	}
	f := rules.New(rules.DepsNotLocked, lineLoc(mf, p.Line, p.Name), fmt.Sprintf("%s is not locked, any version it allows may be installed (%s)%s", p.Name, p.Requirement, extra))
	f.Severity = sev
	a.Add(f)
}

// group is a set of records that are one vulnerability (linked by ids
// and aliases).
type group struct {
	ids     map[string]bool
	records []*osvdb.Record
	first   []*osvdb.Affected // records[i]'s first matching entry
	hits    []*osvdb.Affected // every matching entry
}

// vulns matches one locked package and adds one finding per alias group.
// It reports whether the package is affected by anything.
//
// Without a database only the model-file correlations run.
func (m *matcher) vulns(a *report.Artifact, mf *Manifest, p Package, models map[correlate.Kind][]string) bool {
	var recs []osvdb.Record
	var err error
	if m.db != nil {
		recs, err = m.lookup(p.Ecosystem, p.Name)
	}
	if err != nil {
		a.Add(rules.New(rules.DepsMatchError, lineLoc(mf, p.Line, p.Name+"@"+p.Version), err.Error()))
		return false
	}
	var groups []*group
	for i := range recs {
		r := &recs[i]
		hits, err := r.Match(p.Ecosystem, p.Name, p.Version)
		if err != nil && len(hits) == 0 {
			a.Add(rules.New(rules.DepsMatchError, lineLoc(mf, p.Line, p.Name+"@"+p.Version), fmt.Sprintf("%s %s could not be compared with %s: %v", p.Name, p.Version, r.ID, err)))
			continue
		}
		if len(hits) == 0 {
			continue
		}
		groups = addToGroups(groups, r, hits)
	}
	correlations := correlate.Find(p.Name, p.Version, models)
	if p.Ecosystem != "PyPI" {
		correlations = nil
	}
	used := make([]bool, len(correlations))
	for _, g := range groups {
		f := vulnFinding(mf, p, g)
		for i, c := range correlations {
			if c.Names(sortedKeys(g.ids)) {
				used[i] = true
				f.Severity = max(f.Severity, c.Severity)
				f.Message = fmt.Sprintf("%s %s: EXERCISED by %s in this tree. %s", p.Name, p.Version, filesPhrase(c.Files), strings.TrimPrefix(f.Message, p.Name+" "+p.Version+": "))
				f.Reason += " " + c.Reason
			}
		}
		a.Add(f)
	}
	for i, c := range correlations {
		if used[i] {
			continue
		}
		a.Add(rules.FromData(rulePrefixML+c.ID, report.Suspicious, c.Severity, c.Reason, lineLoc(mf, p.Line, p.Name+"@"+p.Version),
			fmt.Sprintf("%s %s is in the affected range of %s and this tree holds %s that exercise it", p.Name, p.Version,
				strings.Join(c.Advisories, "/"), filesPhrase(c.Files))))
	}
	return len(groups) > 0 || len(correlations) > 0
}

func filesPhrase(files []string) string {
	noun := "model files"
	if len(files) == 1 {
		noun = "model file"
	}
	return fmt.Sprintf("%d %s (%s)", len(files), noun, shortList(files, 3))
}

func addToGroups(groups []*group, r *osvdb.Record, hits []*osvdb.Affected) []*group {
	ids := append([]string{r.ID}, r.Aliases...)
	var into *group
	var rest []*group
	for _, g := range groups {
		linked := false
		for _, id := range ids {
			if g.ids[id] {
				linked = true
				break
			}
		}
		switch {
		case !linked:
			rest = append(rest, g)
		case into == nil:
			into = g
			rest = append(rest, g)
		default: // r links two groups: merge them
			for id := range g.ids {
				into.ids[id] = true
			}
			into.records = append(into.records, g.records...)
			into.first = append(into.first, g.first...)
			into.hits = append(into.hits, g.hits...)
		}
	}
	if into == nil {
		into = &group{ids: map[string]bool{}}
		rest = append(rest, into)
	}
	for _, id := range ids {
		into.ids[id] = true
	}
	into.records = append(into.records, r)
	into.first = append(into.first, hits[0])
	into.hits = append(into.hits, hits...)
	return rest
}

// vulnFinding renders one alias group: rule = the group's primary id
// (a MAL- id when there is one), severity = the worst of its records.
func vulnFinding(mf *Manifest, p Package, g *group) report.Finding {
	var recIDs []string
	malicious := false
	best := osvdb.Score{}
	summary := ""
	for i, r := range g.records {
		recIDs = append(recIDs, r.ID)
		if r.IsMalicious() {
			malicious = true
		}
		if s := osvdb.ScoreOf(r, g.first[i]); s.Rating > best.Rating {
			best = s
		}
		if summary == "" {
			summary = r.Summary
		}
	}
	sort.Slice(recIDs, func(i, j int) bool {
		mi, mj := strings.HasPrefix(recIDs[i], "MAL-"), strings.HasPrefix(recIDs[j], "MAL-")
		if mi != mj {
			return mi
		}
		return recIDs[i] < recIDs[j]
	})
	primary := recIDs[0]
	var aliases []string
	for _, id := range sortedKeys(g.ids) {
		if id != primary {
			aliases = append(aliases, id)
		}
	}
	fixed := fixedAbove(p, g.hits)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: ", p.Name, p.Version)
	sev, verdict := severityOf(best), report.Suspicious
	if malicious {
		sev, verdict = report.SeverityCritical, report.Malicious
		b.WriteString("malicious package, remove it")
	} else if len(fixed) > 0 {
		fmt.Fprintf(&b, "fixed in %s", strings.Join(fixed, ", "))
	} else {
		b.WriteString("no fixed version")
	}
	if len(aliases) > 0 {
		fmt.Fprintf(&b, " (aliases %s)", strings.Join(aliases, ", "))
	}
	if best.Rating == osvdb.RatingUnknown && !malicious {
		b.WriteString(" [no severity in the database: reported as medium]")
	} else if best.Base > 0 {
		fmt.Fprintf(&b, " [CVSS %.1f]", best.Base)
	}
	if summary != "" {
		b.WriteString(": " + summary)
	}
	reason := "Known vulnerability (OSV): https://osv.dev/vulnerability/" + primary
	if malicious {
		reason = "Known malicious package (OpenSSF malicious-packages via OSV): https://osv.dev/vulnerability/" + primary
	}
	return rules.FromData(primary, verdict, sev, reason, lineLoc(mf, p.Line, p.Name+"@"+p.Version), b.String())
}

func severityOf(s osvdb.Score) report.Severity {
	switch s.Rating {
	case osvdb.RatingCritical:
		return report.SeverityCritical
	case osvdb.RatingHigh:
		return report.SeverityHigh
	case osvdb.RatingLow:
		return report.SeverityLow
	}
	return report.SeverityMedium // medium, and unknown: never below a known low
}

// fixedAbove lists the fixed versions above the installed one, lowest
// first: the upgrades that close this advisory.
func fixedAbove(p Package, hits []*osvdb.Affected) []string {
	cur, err := semantic.Parse(p.Version, p.Ecosystem)
	var out []string
	for _, h := range hits {
		for _, f := range h.FixedVersions() {
			if slices.Contains(out, f) {
				continue
			}
			if err == nil {
				if c, e := cur.CompareStr(f); e == nil && c >= 0 {
					continue
				}
			}
			out = append(out, f)
		}
	}
	if err == nil {
		sort.SliceStable(out, func(i, j int) bool {
			vi, e1 := semantic.Parse(out[i], p.Ecosystem)
			if e1 != nil {
				return false
			}
			c, e2 := vi.CompareStr(out[j])
			return e2 == nil && c < 0
		})
	}
	return out
}

// lineLoc is "file:line" when the line is known, else the fallback
// ("pkg@version").
func lineLoc(mf *Manifest, line int, fallback string) string {
	if line > 0 {
		return filepath.Base(mf.Rel) + ":" + strconv.Itoa(line)
	}
	if fallback == "" {
		return filepath.Base(mf.Rel)
	}
	return fallback
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}

// Matcher matches installed packages against the OSV database as deps
// matches locked ones: one finding per alias group, MAL- records as
// malicious, the severity of the worst record, the fixed versions above
// the installed one, and the correlations with model files. The image
// verb uses it for the packages of an image.
type Matcher struct{ m *matcher }

// NewMatcher matches against db (nil: only the model correlations run).
func NewMatcher(db *osvdb.DB) *Matcher { return &Matcher{newMatcher(db)} }

// HasData reports whether the database holds the ecosystem's export.
func (m *Matcher) HasData(ecosystem string) bool {
	return m.m.db != nil && m.m.db.HasEcosystem(ecosystem)
}

// Vulns returns the findings for one installed package; location names
// it in each finding. models are the model files of the same image or
// tree, by kind (correlate.KindsOf), for the correlations.
func (m *Matcher) Vulns(p Package, location string, models map[correlate.Kind][]string) []report.Finding {
	var a report.Artifact
	mf := &Manifest{}
	p.Line = 0
	if p.Ecosystem == "PyPI" {
		m.m.checkName(&a, mf, p)
	}
	if m.HasData(p.Ecosystem) || len(models) > 0 {
		m.m.vulns(&a, mf, p, models)
	}
	for i := range a.Findings {
		if a.Findings[i].Location == p.Name+"@"+p.Version || a.Findings[i].Location == "" {
			a.Findings[i].Location = location
		}
	}
	return a.Findings
}
