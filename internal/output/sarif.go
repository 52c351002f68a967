package output

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aigis-dev/aigis/report"
)

// SARIF 2.1.0 as GitHub code scanning reads it. GitHub's extra rules over
// the schema: every result has a physical location whose region has a
// startLine, rules carry shortDescription, fullDescription and help, and
// properties["security-severity"] ranks security alerts.

const (
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifVersion = "2.1.0"
	// srcRoot is the uriBaseId of every relative artifact URI: the
	// directory aigis ran in, which in CI is the checkout.
	srcRoot = "%SRCROOT%"
	// fingerprintKey names aigis's partialFingerprints entry. GitHub
	// computes primaryLocationLineHash itself (from the text of the line,
	// meaningless for a binary model) and warns when a tool's value
	// differs, so aigis uses a key of its own; "v1" is bumped whenever
	// the inputs to the hash change, so old alerts are not silently
	// re-matched.
	fingerprintKey = "aigis/v1"
)

type sarifRun struct {
	Tool               sarifTool                        `json:"tool"`
	OriginalURIBaseIDs map[string]sarifArtifactLocation `json:"originalUriBaseIds,omitempty"`
	Properties         map[string]any                   `json:"properties,omitempty"`
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
	FullDescription      sarifText       `json:"fullDescription"`
	Help                 sarifText       `json:"help"`
	DefaultConfiguration sarifRuleConfig `json:"defaultConfiguration"`
	Properties           map[string]any  `json:"properties"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Kind                string            `json:"kind,omitempty"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical  `json:"physicalLocation"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           sarifRegion           `json:"region"`
}

type sarifArtifactLocation struct {
	URI         string     `json:"uri"`
	URIBaseID   string     `json:"uriBaseId,omitempty"`
	Description *sarifText `json:"description,omitempty"`
}

type sarifRegion struct {
	StartLine  int    `json:"startLine"`
	ByteOffset *int64 `json:"byteOffset,omitempty"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
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

// securitySeverity is the numeric score GitHub code scanning reads: its
// bands are critical above 9.0, high from 7.0, medium from 4.0, low above 0.
func securitySeverity(s report.Severity) string {
	if s < 0 || int(s) >= 5 {
		s = report.SeverityCritical
	}
	return [...]string{"0.0", "2.0", "5.5", "8.0", "9.5"}[s]
}

// newSARIF writes a SARIF 2.1.0 log with one run: one result per finding
// (exact duplicates, such as a repository finding also attributed to its
// file, once), and the rules the results use. Relative artifact URIs are
// relative to the working directory, declared as %SRCROOT%.
func newSARIF(w io.Writer, m Meta) Writer {
	root, err := os.Getwd()
	if err != nil {
		root = ""
	}
	return newSARIFWriter(w, root, m)
}

// encodeSARIF writes a whole report with %SRCROOT% at root (tests).
func encodeSARIF(w io.Writer, r *report.Report, root string) error {
	s := newSARIFWriter(w, root, Meta{Tool: r.Tool, Version: r.Version, Command: r.Command})
	for i := range r.Artifacts {
		s.Artifact(&r.Artifacts[i])
	}
	return s.Close()
}

// sarifWriter writes a log as the artifacts come: results first, each as
// soon as its artifact is known, then the rules they used (collected on
// the way, indexed in order of first use) and the run's other properties.
// It never needs more than one artifact at a time; what it keeps is one
// entry per rule and per distinct result (for de-duplication and
// fingerprint occurrence counts).
type sarifWriter struct {
	w     io.Writer
	meta  Meta
	begun bool
	err   error
	root  string // absolute directory %SRCROOT% stands for; "" if unknown
	buf   bytes.Buffer

	rules     []*ruleAcc
	ruleIndex map[string]int
	seen      map[[sha256.Size]byte]bool
	occurs    map[string]int
	results   int
}

type ruleAcc struct {
	id, reason string
	sev        report.Severity
}

func newSARIFWriter(w io.Writer, root string, m Meta) *sarifWriter {
	return &sarifWriter{w: w, root: root, meta: m, ruleIndex: map[string]int{}, seen: map[[sha256.Size]byte]bool{}, occurs: map[string]int{}}
}

func (s *sarifWriter) write(str string) {
	if s.err == nil {
		_, s.err = io.WriteString(s.w, str)
	}
}

// value writes v as indented JSON whose continuation lines start with
// prefix (HTML characters such as '>' in locations stay readable).
func (s *sarifWriter) value(prefix string, v any) {
	if s.err != nil {
		return
	}
	s.buf.Reset()
	enc := json.NewEncoder(&s.buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, "  ")
	if s.err = enc.Encode(v); s.err != nil {
		return
	}
	_, s.err = s.w.Write(bytes.TrimSuffix(s.buf.Bytes(), []byte("\n")))
}

func (s *sarifWriter) begin() {
	if s.begun {
		return
	}
	s.begun = true
	s.write("{\n  \"$schema\": ")
	s.value("  ", sarifSchema)
	s.write(",\n  \"version\": ")
	s.value("  ", sarifVersion)
	s.write(",\n  \"runs\": [\n    {\n      \"results\": [")
}

// Artifact writes the results for one artifact's findings.
func (s *sarifWriter) Artifact(a *report.Artifact) error {
	s.begin()
	for i := range a.Findings {
		res, ok := s.result(a, &a.Findings[i])
		if !ok {
			continue
		}
		if s.results > 0 {
			s.write(",")
		}
		s.write("\n        ")
		s.value("        ", res)
		s.results++
	}
	return s.err
}

// Close writes the rules and the rest of the run, and closes the log.
func (s *sarifWriter) Close() error {
	s.begin()
	r := s.meta
	if s.results > 0 {
		s.write("\n      ")
	}
	s.write("],\n      ")
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: r.Tool, Version: r.Version, InformationURI: "https://github.com/aigis-dev/aigis", Rules: []sarifRule{}}}}
	if run.Tool.Driver.Name == "" {
		run.Tool.Driver.Name = "aigis"
	}
	for _, ra := range s.rules {
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, ra.rule())
	}
	if s.root != "" {
		run.OriginalURIBaseIDs = map[string]sarifArtifactLocation{srcRoot: {
			URI:         strings.TrimSuffix(fileURI(s.root), "/") + "/",
			Description: &sarifText{Text: "the working directory of the aigis run; relative artifact URIs resolve against it"},
		}}
	}
	if r.Command != "" {
		run.Properties = map[string]any{"command": r.Command}
	}
	// The run's members after "results", written as one object whose
	// braces are dropped.
	s.buf.Reset()
	enc := json.NewEncoder(&s.buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("    ", "  ")
	if err := enc.Encode(run); err != nil && s.err == nil {
		s.err = err
	}
	body := strings.TrimSpace(s.buf.String())
	body = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(body, "{"), "}"))
	s.write(body)
	s.write("\n    }\n  ]\n}\n")
	return s.err
}

func (ra *ruleAcc) rule() sarifRule {
	full := ra.reason
	if full == "" {
		full = ra.id
	}
	return sarifRule{
		ID:                   ra.id,
		ShortDescription:     sarifText{Text: firstSentence(full)},
		FullDescription:      sarifText{Text: full},
		Help:                 sarifText{Text: full},
		DefaultConfiguration: sarifRuleConfig{Level: sarifLevel(ra.sev)},
		Properties: map[string]any{
			"security-severity": securitySeverity(ra.sev),
			"tags":              []string{"security", "supply-chain"},
		},
	}
}

// firstSentence is a rule's short description: the first sentence of its
// reason (a period, a space and a capital end it; "e.g." does not).
func firstSentence(s string) string {
	s = strings.TrimSpace(s)
	for i := 1; i+2 < len(s); i++ {
		if s[i] == '.' && s[i+1] == ' ' && 'A' <= s[i+2] && s[i+2] <= 'Z' && !strings.HasSuffix(s[:i], "e.g") && !strings.HasSuffix(s[:i], "i.e") {
			return s[:i+1]
		}
	}
	return s
}

// result converts one finding; ok is false for an exact duplicate of a
// result already written.
func (s *sarifWriter) result(a *report.Artifact, f *report.Finding) (sarifResult, bool) {
	loc, suffix := s.location(a, f.Location)
	art := loc.PhysicalLocation.ArtifactLocation
	reg := loc.PhysicalLocation.Region
	off := int64(-1)
	if reg.ByteOffset != nil {
		off = *reg.ByteOffset
	}
	dup := sha256.Sum256([]byte(strings.Join([]string{f.Rule, art.URIBaseID, art.URI, strconv.Itoa(reg.StartLine), strconv.FormatInt(off, 10), f.Location, f.Message}, "\x00")))
	if s.seen[dup] {
		return sarifResult{}, false
	}
	s.seen[dup] = true

	idx, ok := s.ruleIndex[f.Rule]
	if !ok {
		idx = len(s.rules)
		s.ruleIndex[f.Rule] = idx
		s.rules = append(s.rules, &ruleAcc{id: f.Rule, sev: f.Severity})
	}
	ra := s.rules[idx]
	if f.Severity > ra.sev {
		ra.sev = f.Severity
	}
	if ra.reason == "" {
		ra.reason = f.Reason
	}

	msg := f.Message
	if msg == "" {
		msg = f.Rule
	}
	res := sarifResult{
		RuleID:    f.Rule,
		RuleIndex: idx,
		Level:     sarifLevel(f.Severity),
		Message:   sarifText{Text: msg + suffix},
		Locations: []sarifLocation{loc},
		Properties: map[string]any{
			"severity": f.Severity.String(),
			"verdict":  f.Verdict.String(),
			"format":   a.Format,
		},
	}
	if f.Location != "" {
		res.Properties["location"] = f.Location
	}
	// A finding whose verdict is clean (a signature that verified, the
	// tensors a diff changed) is information, not a problem: SARIF says
	// so with kind, and then requires level "none".
	if f.Verdict == report.Clean {
		res.Kind, res.Level = "informational", "none"
	}
	base := fingerprint(f.Rule, art.URI, f.Location, f.Message)
	s.occurs[base]++
	res.PartialFingerprints = map[string]string{fingerprintKey: base + ":" + strconv.Itoa(s.occurs[base])}
	return res, true
}

// location maps an aigis location onto SARIF. GitHub needs a physical
// location with region.startLine for every result, so there always is one,
// on a file the repository has:
//
//   - "<file>:<line>" (text files, manifests): startLine is the line. The
//     file is the artifact itself, or, when it names another file, a file
//     below the artifact (a directory analysis reports "sub/modeling.py:3"
//     for a repository directory), and the location is that file.
//   - "@<offset>" (the artifact's own bytes): startLine 1, as GitHub
//     demands, and byteOffset, the precise position for viewers of binary
//     files. (The spec wants a text and a binary region in one object to
//     cover the same bytes; for a binary model, "line 1" only exists for
//     GitHub, which ignores byteOffset, so the two are given together.)
//   - anything else ("model.pt>archive/data.pkl@57" inside a container,
//     "pkg@1.2.3", a member name): startLine 1 of the artifact. The
//     offset is within a nested member, not a position in the file, so
//     there is no byteOffset; the location goes into a logicalLocation
//     (the spec's place for a position that is not a span of the file),
//     and, since GitHub shows neither, into the message text too.
//
// suffix is what to append to the message; the raw location is also in
// the result's properties.
func (s *sarifWriter) location(a *report.Artifact, loc string) (l sarifLocation, suffix string) {
	l.PhysicalLocation.ArtifactLocation = s.artifactLocation(a.Path)
	l.PhysicalLocation.Region.StartLine = 1
	if loc == "" {
		return l, ""
	}
	if file, line := report.FileLine(loc); line > 0 && isPlainPath(file) {
		l.PhysicalLocation.Region.StartLine = line
		if !namesArtifact(file, a.Path) {
			l.PhysicalLocation.ArtifactLocation = s.artifactLocation(filepath.Join(a.Path, filepath.FromSlash(file)))
		}
		return l, ""
	}
	if member, off, ok := splitOffset(loc); ok && member == "" {
		l.PhysicalLocation.Region.ByteOffset = &off
		return l, " (at byte " + strconv.FormatInt(off, 10) + ")"
	}
	l.LogicalLocations = []sarifLogical{{FullyQualifiedName: loc}}
	return l, " (at " + loc + ")"
}

// isPlainPath reports whether a location's file part is a relative path
// inside the artifact's tree: no container member ('>'), no offset ('@'),
// no way out.
func isPlainPath(file string) bool {
	return file != "" && !strings.ContainsAny(file, ">@\\") && !strings.HasPrefix(file, "/") && filepath.IsLocal(filepath.FromSlash(file))
}

// namesArtifact reports whether a location's file is the artifact itself
// ("requirements.txt" for proj/requirements.txt, "sub/x.py" for
// repo/sub/x.py).
func namesArtifact(file, artifact string) bool {
	p := filepath.ToSlash(filepath.Clean(artifact))
	return p == file || strings.HasSuffix(p, "/"+file) || path.Base(file) == path.Base(p)
}

// splitOffset splits "<member>@<offset>"; a bare "@123" is an offset in
// the artifact itself.
func splitOffset(loc string) (member string, off int64, ok bool) {
	i := strings.LastIndexByte(loc, '@')
	if i < 0 {
		return loc, 0, false
	}
	n, err := strconv.ParseInt(loc[i+1:], 10, 64)
	if err != nil || n < 0 || loc[i+1] == '+' {
		return loc, 0, false
	}
	return loc[:i], n, true
}

// artifactLocation names a walked path the way GitHub resolves it: a path
// inside the working directory is a relative URI reference against
// %SRCROOT% (GitHub reads it as relative to the repository root, which is
// where CI runs aigis); any other path is an absolute file URI without a
// base (a relative reference with "../" would resolve outside the base).
func (s *sarifWriter) artifactLocation(p string) sarifArtifactLocation {
	if p == "" {
		p = "."
	}
	rel := ""
	switch {
	case !filepath.IsAbs(p) && (filepath.Clean(p) == "." || filepath.IsLocal(p)):
		rel = filepath.Clean(p)
	case s.root != "":
		abs := p
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(s.root, abs)
		}
		if r, err := filepath.Rel(s.root, abs); err == nil && (r == "." || filepath.IsLocal(r)) {
			rel = r
		} else {
			return sarifArtifactLocation{URI: fileURI(abs)}
		}
	default:
		if abs, err := filepath.Abs(p); err == nil {
			return sarifArtifactLocation{URI: fileURI(abs)}
		}
		return sarifArtifactLocation{URI: escapePath(filepath.ToSlash(p))}
	}
	if rel == "." {
		return sarifArtifactLocation{URI: "./", URIBaseID: srcRoot}
	}
	return sarifArtifactLocation{URI: escapePath(filepath.ToSlash(rel)), URIBaseID: srcRoot}
}

// fileURI is the file URI of an absolute path (file:///C:/x on Windows).
func fileURI(abs string) string {
	p := filepath.ToSlash(abs)
	if v := filepath.VolumeName(abs); len(v) == 2 && v[1] == ':' {
		return "file:///" + v + escapePath(p[len(v):])
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return "file://" + escapePath(p)
}

// escapePath percent-encodes every byte of a slash-separated path except
// RFC 3986 unreserved characters and "/", so the result is a valid URI
// path whatever the file name holds (spaces, '#', '%', ':', non-ASCII).
// Encoding ':' also keeps a first segment like "a:b" from reading as a
// scheme.
func escapePath(p string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~', c == '/':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// fingerprint identifies a result across runs, whatever the order of the
// output: a hash of the rule, the artifact URI, the location without its
// line or byte offset (a finding that moves keeps its identity) and the
// message without volatile numbers (counts, sizes, offsets, digests).
// Results that still collide (the same call twice in one member) are told
// apart by an occurrence count appended by the caller, as GitHub does for
// primaryLocationLineHash; the output order of such twins does not change
// which fingerprints exist.
func fingerprint(rule, uri, loc, msg string) string {
	if file, line := report.FileLine(loc); line > 0 {
		loc = file
	} else if member, _, ok := splitOffset(loc); ok {
		loc = member
	}
	h := sha256.Sum256([]byte(rule + "\x00" + uri + "\x00" + loc + "\x00" + normaliseMessage(msg)))
	return hex.EncodeToString(h[:16])
}

// normaliseMessage replaces the volatile words of a message with "#":
// words that start with a digit (numbers, offsets, "1.82.7", "0x1f") and
// long hexadecimal runs (digests). Identifiers with digits inside
// ("layer5", "sha256", "MAL-2026-2144" keeps "MAL") stay.
func normaliseMessage(msg string) string {
	var b strings.Builder
	isWord := func(c byte) bool {
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
	}
	for i := 0; i < len(msg); {
		if !isWord(msg[i]) {
			b.WriteByte(msg[i])
			i++
			continue
		}
		j := i
		for j < len(msg) && isWord(msg[j]) {
			j++
		}
		w := msg[i:j]
		if ('0' <= w[0] && w[0] <= '9') || (len(w) >= 16 && isHex(w)) {
			b.WriteByte('#')
		} else {
			b.WriteString(w)
		}
		i = j
	}
	return b.String()
}

func isHex(w string) bool {
	for i := 0; i < len(w); i++ {
		c := w[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
