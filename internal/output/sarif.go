package output

import (
	"encoding/json"
	"io"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/aigis-dev/aigis/report"
)

// SARIF 2.1.0 types: only what aigis writes.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string          `json:"id"`
	ShortDescription     sarifText       `json:"shortDescription"`
	FullDescription      *sarifText      `json:"fullDescription,omitempty"`
	DefaultConfiguration sarifRuleConfig `json:"defaultConfiguration"`
	Properties           map[string]any  `json:"properties,omitempty"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	RuleIndex  int             `json:"ruleIndex"`
	Level      string          `json:"level"`
	Message    sarifText       `json:"message"`
	Locations  []sarifLocation `json:"locations"`
	Properties map[string]any  `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical  `json:"physicalLocation"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           *sarifRegion          `json:"region,omitempty"`
}

type sarifArtifactLocation struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	ByteOffset *int64 `json:"byteOffset,omitempty"`
	StartLine  int    `json:"startLine,omitempty"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind,omitempty"`
}

func sarifLevel(s report.Severity) string {
	switch {
	case s >= report.SeverityHigh:
		return "error"
	case s == report.SeverityMedium:
		return "warning"
	}
	return "note"
}

// securitySeverity is the numeric score GitHub code scanning reads.
func securitySeverity(s report.Severity) string {
	return [...]string{"0.0", "2.0", "5.5", "8.0", "9.5"}[s]
}

// SARIF writes a SARIF 2.1.0 log with one run. Every finding is a result;
// rules are collected from the findings, at the highest severity seen.
func SARIF(w io.Writer, r *report.Report) error {
	type ruleAcc struct {
		reason string
		sev    report.Severity
	}
	rules := map[string]*ruleAcc{}
	for _, a := range r.Artifacts {
		for _, f := range a.Findings {
			ra := rules[f.Rule]
			if ra == nil {
				ra = &ruleAcc{sev: f.Severity}
				rules[f.Rule] = ra
			}
			if f.Severity > ra.sev {
				ra.sev = f.Severity
			}
			if ra.reason == "" {
				ra.reason = f.Reason
			}
		}
	}
	ids := make([]string, 0, len(rules))
	for id := range rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	index := map[string]int{}
	driver := sarifDriver{Name: r.Tool, Version: r.Version, InformationURI: "https://github.com/aigis-dev/aigis", Rules: []sarifRule{}}
	if driver.Name == "" {
		driver.Name = "aigis"
	}
	for i, id := range ids {
		index[id] = i
		ra := rules[id]
		rule := sarifRule{
			ID:                   id,
			ShortDescription:     sarifText{Text: id},
			DefaultConfiguration: sarifRuleConfig{Level: sarifLevel(ra.sev)},
			Properties: map[string]any{
				"security-severity": securitySeverity(ra.sev),
				"tags":              []string{"security", "supply-chain"},
			},
		}
		if ra.reason != "" {
			rule.FullDescription = &sarifText{Text: ra.reason}
		}
		driver.Rules = append(driver.Rules, rule)
	}
	results := []sarifResult{}
	for _, a := range r.Artifacts {
		for _, f := range a.Findings {
			loc := sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifactLocation{URI: fileURI(a.Path)}}}
			member, off, hasOff := splitLocation(f.Location)
			switch line, ok := lineOf(f.Location, a.Path); {
			case member == "" && hasOff:
				loc.PhysicalLocation.Region = &sarifRegion{ByteOffset: &off}
			case ok:
				loc.PhysicalLocation.Region = &sarifRegion{StartLine: line}
			}
			if f.Location != "" {
				loc.LogicalLocations = []sarifLogical{{FullyQualifiedName: f.Location, Kind: "member"}}
			}
			results = append(results, sarifResult{
				RuleID:    f.Rule,
				RuleIndex: index[f.Rule],
				Level:     sarifLevel(f.Severity),
				Message:   sarifText{Text: f.Message},
				Locations: []sarifLocation{loc},
				Properties: map[string]any{
					"severity": f.Severity.String(),
					"verdict":  f.Verdict.String(),
					"format":   a.Format,
				},
			})
		}
	}
	log := sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{{Tool: sarifTool{Driver: driver}, Results: results}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(log)
}

// splitLocation splits "<member>@<offset>"; a bare "@123" is an offset in
// the file itself.
func splitLocation(loc string) (member string, off int64, ok bool) {
	i := strings.LastIndexByte(loc, '@')
	if i < 0 {
		return loc, 0, false
	}
	n, err := strconv.ParseInt(loc[i+1:], 10, 64)
	if err != nil {
		return loc, 0, false
	}
	return loc[:i], n, true
}

// lineOf reads "<file>:<line>" locations (manifests) that name the
// artifact's own file.
func lineOf(loc, artifact string) (int, bool) {
	file, n := report.FileLine(loc)
	if n < 1 || filepath.Base(file) != filepath.Base(artifact) {
		return 0, false
	}
	return n, true
}

// fileURI turns a walked path into a URI reference: relative paths stay
// relative (SARIF viewers resolve them against the checkout).
func fileURI(p string) string {
	p = filepath.ToSlash(p)
	u := url.URL{Path: p}
	if strings.HasPrefix(p, "/") {
		u.Scheme = "file"
	}
	return u.String()
}
