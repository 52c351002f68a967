// Package osvdb is aigis's offline copy of the OSV vulnerability database.
//
// It imports the per-ecosystem all.zip exports (osv-scanner's offline
// layout) into one bbolt file indexed by ecosystem and normalised package
// name, keeps only what matching and reporting need, and answers "which
// advisories name this package" with a single key lookup, so a scan never
// re-parses the exports. It also holds OSV's matching rules (ranges,
// versions[], withdrawn records) and severity scoring, so every caller
// decides "affected" the same way.
//
// It must never trust a record: every parser is bounded in bytes, entries
// and string lengths, and a malformed record is an error naming the record,
// never a panic. It never reaches the network except in Update, and never
// executes anything it reads.
package osvdb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aigis-dev/aigis/internal/jsonerr"
)

// Bounds for one record. Real records are a few KiB; the largest PyPI
// records (long versions[] lists) stay far below these.
const (
	MaxRecordBytes  = 8 << 20
	maxAffected     = 4096
	maxRanges       = 256
	maxEvents       = 4096
	maxVersions     = 100000
	maxAliases      = 256
	maxSeverities   = 16
	maxStringBytes  = 4096
	maxSummaryBytes = 400
)

// Range types from the OSV schema. Only SEMVER and ECOSYSTEM ranges order
// versions; GIT ranges name commits and are skipped when matching versions.
const (
	RangeSemver    = "SEMVER"
	RangeEcosystem = "ECOSYSTEM"
	RangeGit       = "GIT"
)

// Record is the part of an OSV record that matching and reporting use.
// It is what the store keeps: details, references and credits are dropped.
type Record struct {
	ID        string     `json:"id"`
	Aliases   []string   `json:"aliases,omitempty"`
	Summary   string     `json:"summary,omitempty"`
	Modified  string     `json:"modified,omitempty"`
	Published string     `json:"published,omitempty"`
	Withdrawn string     `json:"withdrawn,omitempty"`
	Severity  []Severity `json:"severity,omitempty"`
	// DBSeverity is database_specific.severity (GitHub: LOW, MODERATE,
	// HIGH, CRITICAL), used only when no CVSS vector is present.
	DBSeverity string     `json:"db_severity,omitempty"`
	Affected   []Affected `json:"affected"`
}

// Severity is one entry of severity[]: a type (CVSS_V3, CVSS_V4, ...) and
// a vector.
type Severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Affected names one package and the versions of it that are affected.
type Affected struct {
	Ecosystem  string     `json:"ecosystem"`
	Name       string     `json:"name"`
	Ranges     []Range    `json:"ranges,omitempty"`
	Versions   []string   `json:"versions,omitempty"`
	Severity   []Severity `json:"severity,omitempty"`
	DBSeverity string     `json:"db_severity,omitempty"`
}

// Range is one ranges[] entry; Events keep the record's order.
type Range struct {
	Type   string  `json:"type"`
	Events []Event `json:"events"`
}

// Event is one range event; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty" yaml:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty" yaml:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty" yaml:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty" yaml:"limit,omitempty"`
}

// wire types: what the OSV JSON holds, before validation.
type wireRecord struct {
	ID               string          `json:"id"`
	Aliases          []string        `json:"aliases"`
	Summary          string          `json:"summary"`
	Details          string          `json:"details"`
	Modified         string          `json:"modified"`
	Published        string          `json:"published"`
	Withdrawn        string          `json:"withdrawn"`
	Severity         []Severity      `json:"severity"`
	Affected         []wireAffected  `json:"affected"`
	DatabaseSpecific json.RawMessage `json:"database_specific"`
}

type wireAffected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
	} `json:"package"`
	Ranges           []wireRange     `json:"ranges"`
	Versions         []string        `json:"versions"`
	Severity         []Severity      `json:"severity"`
	DatabaseSpecific json.RawMessage `json:"database_specific"`
}

type wireRange struct {
	Type   string                       `json:"type"`
	Events []map[string]json.RawMessage `json:"events"`
}

// ParseRecord decodes and validates one OSV JSON record. It is bounded:
// oversized input, too many entries or over-long strings are errors.
func ParseRecord(b []byte) (*Record, error) {
	if len(b) > MaxRecordBytes {
		return nil, fmt.Errorf("record is %d bytes, over the %d byte limit", len(b), MaxRecordBytes)
	}
	var w wireRecord
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("not an OSV JSON record: %w", jsonerr.Clean(err))
	}
	if w.ID == "" {
		return nil, errors.New("record has no id")
	}
	if err := checkString("id", w.ID); err != nil {
		return nil, err
	}
	r := &Record{
		ID:        w.ID,
		Modified:  w.Modified,
		Published: w.Published,
		Withdrawn: w.Withdrawn,
	}
	for _, s := range []struct{ n, v string }{{"modified", w.Modified}, {"published", w.Published}, {"withdrawn", w.Withdrawn}} {
		if err := checkString(s.n, s.v); err != nil {
			return nil, err
		}
	}
	if len(w.Aliases) > maxAliases {
		return nil, fmt.Errorf("%s: %d aliases, over the limit of %d", w.ID, len(w.Aliases), maxAliases)
	}
	for _, a := range w.Aliases {
		if err := checkString("alias", a); err != nil {
			return nil, fmt.Errorf("%s: %w", w.ID, err)
		}
		if a != "" && a != w.ID {
			r.Aliases = append(r.Aliases, a)
		}
	}
	r.Summary = summarize(w.Summary, w.Details)
	sev, err := checkSeverities(w.Severity)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", w.ID, err)
	}
	r.Severity = sev
	r.DBSeverity = dbSeverity(w.DatabaseSpecific)
	if len(w.Affected) > maxAffected {
		return nil, fmt.Errorf("%s: %d affected entries, over the limit of %d", w.ID, len(w.Affected), maxAffected)
	}
	for i, wa := range w.Affected {
		a, err := convertAffected(wa)
		if err != nil {
			return nil, fmt.Errorf("%s: affected[%d]: %w", w.ID, i, err)
		}
		r.Affected = append(r.Affected, a)
	}
	return r, nil
}

func convertAffected(wa wireAffected) (Affected, error) {
	a := Affected{Ecosystem: wa.Package.Ecosystem, Name: wa.Package.Name}
	if err := checkString("ecosystem", a.Ecosystem); err != nil {
		return a, err
	}
	if err := checkString("package name", a.Name); err != nil {
		return a, err
	}
	if len(wa.Ranges) > maxRanges {
		return a, fmt.Errorf("%d ranges, over the limit of %d", len(wa.Ranges), maxRanges)
	}
	if len(wa.Versions) > maxVersions {
		return a, fmt.Errorf("%d versions, over the limit of %d", len(wa.Versions), maxVersions)
	}
	for _, v := range wa.Versions {
		if err := checkString("version", v); err != nil {
			return a, err
		}
	}
	a.Versions = wa.Versions
	for j, wr := range wa.Ranges {
		if len(wr.Events) > maxEvents {
			return a, fmt.Errorf("range %d: %d events, over the limit of %d", j, len(wr.Events), maxEvents)
		}
		rg := Range{Type: wr.Type}
		if err := checkString("range type", rg.Type); err != nil {
			return a, err
		}
		for _, we := range wr.Events {
			e, err := convertEvent(we)
			if err != nil {
				return a, fmt.Errorf("range %d: %w", j, err)
			}
			rg.Events = append(rg.Events, e)
		}
		a.Ranges = append(a.Ranges, rg)
	}
	sev, err := checkSeverities(wa.Severity)
	if err != nil {
		return a, err
	}
	a.Severity = sev
	a.DBSeverity = dbSeverity(wa.DatabaseSpecific)
	return a, nil
}

func convertEvent(we map[string]json.RawMessage) (Event, error) {
	var e Event
	if len(we) != 1 {
		return e, fmt.Errorf("event with %d keys, want exactly one", len(we))
	}
	for k, raw := range we {
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return e, fmt.Errorf("event %q: value is not a string", k)
		}
		if v == "" {
			return e, fmt.Errorf("event %q: empty version", k)
		}
		if err := checkString("event "+k, v); err != nil {
			return e, err
		}
		switch k {
		case "introduced":
			e.Introduced = v
		case "fixed":
			e.Fixed = v
		case "last_affected":
			e.LastAffected = v
		case "limit":
			e.Limit = v
		default:
			return e, fmt.Errorf("unknown event %q", k)
		}
	}
	return e, nil
}

func checkSeverities(s []Severity) ([]Severity, error) {
	if len(s) > maxSeverities {
		return nil, fmt.Errorf("%d severity entries, over the limit of %d", len(s), maxSeverities)
	}
	for _, x := range s {
		if err := checkString("severity type", x.Type); err != nil {
			return nil, err
		}
		if err := checkString("severity score", x.Score); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// dbSeverity pulls database_specific.severity when it is a string; any
// other shape is ignored (database_specific is free-form by design).
func dbSeverity(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var ds struct {
		Severity json.RawMessage `json:"severity"`
	}
	if json.Unmarshal(raw, &ds) != nil || len(ds.Severity) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(ds.Severity, &s) != nil || len(s) > 32 {
		return ""
	}
	return strings.ToUpper(strings.TrimSpace(s))
}

func checkString(what, s string) error {
	if len(s) > maxStringBytes {
		return fmt.Errorf("%s is %d bytes, over the limit of %d", what, len(s), maxStringBytes)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	return nil
}

// summarize keeps the summary, or the first line of details when a record
// has none (most PYSEC records), cut to a bounded length on a rune
// boundary.
func summarize(summary, details string) string {
	s := strings.TrimSpace(summary)
	if s == "" {
		s = strings.TrimSpace(details)
		if i := strings.IndexAny(s, "\r\n"); i >= 0 {
			s = s[:i]
		}
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxSummaryBytes {
		cut := maxSummaryBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	return s
}

// IsMalicious reports whether the record comes from the OpenSSF
// malicious-packages feed (MAL- ids, or a MAL- alias).
func (r *Record) IsMalicious() bool {
	if strings.HasPrefix(r.ID, "MAL-") {
		return true
	}
	for _, a := range r.Aliases {
		if strings.HasPrefix(a, "MAL-") {
			return true
		}
	}
	return false
}
