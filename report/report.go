// Package report is the one findings model shared by every aigis verb.
//
// A Report is a list of Artifacts (files, directories, manifests, models),
// each with a Verdict and Findings. Scan, verify, deps and bom all produce
// this model, and the encoders in package output render it as table, JSON or
// SARIF. The package has no dependencies on any analyser.
package report

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Severity orders findings for --fail-on. The zero value is SeverityInfo.
type Severity int

const (
	SeverityInfo Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity accepts the names printed by String, case-insensitively.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want one of %s)", s, strings.Join(severityNames[:], ", "))
}

func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	*s = v
	return err
}

// Verdict is the one-word answer for an artifact. The order of the constants
// is the order of "worse": an artifact's verdict is the worst verdict of
// anything inside it. Every verdict except Clean means "do not trust this
// file without looking".
type Verdict int

const (
	// Clean: parsed completely, nothing risky.
	Clean Verdict = iota
	// Unsupported: the format is recognised but not analysed.
	Unsupported
	// Inconclusive: a limit or budget stopped the analysis.
	Inconclusive
	// Invalid: malformed or truncated.
	Invalid
	// Suspicious: risky but plausible (unknown import, custom code).
	Suspicious
	// Malicious: would run code or touch the host when loaded.
	Malicious
)

var verdictNames = [...]string{"clean", "unsupported", "inconclusive", "invalid", "suspicious", "malicious"}

func (v Verdict) String() string {
	if v < 0 || int(v) >= len(verdictNames) {
		return fmt.Sprintf("verdict(%d)", int(v))
	}
	return verdictNames[v]
}

// ParseVerdict accepts the names printed by String.
func ParseVerdict(s string) (Verdict, error) {
	for i, n := range verdictNames {
		if strings.EqualFold(s, n) {
			return Verdict(i), nil
		}
	}
	return 0, fmt.Errorf("unknown verdict %q (want one of %s)", s, strings.Join(verdictNames[:], ", "))
}

func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

func (v *Verdict) UnmarshalText(b []byte) error {
	x, err := ParseVerdict(string(b))
	*v = x
	return err
}

// Worse returns the worse of two verdicts.
func Worse(a, b Verdict) Verdict {
	if b > a {
		return b
	}
	return a
}

// DefaultSeverity is the severity a finding gets when its rule names none.
func (v Verdict) DefaultSeverity() Severity {
	switch v {
	case Malicious:
		return SeverityCritical
	case Suspicious, Invalid, Inconclusive:
		return SeverityMedium
	case Unsupported:
		return SeverityLow
	}
	return SeverityInfo
}

// Finding is one observation about an artifact.
type Finding struct {
	// Rule is a stable identifier, e.g. "pickle-dangerous-global".
	Rule string `json:"rule"`
	// Severity drives --fail-on.
	Severity Severity `json:"severity"`
	// Verdict is what this finding says about the artifact on its own.
	Verdict Verdict `json:"verdict"`
	// Message is one human sentence with the evidence.
	Message string `json:"message"`
	// Location is "<member>@<byte offset>", or any string that locates the
	// finding inside the artifact ("requirements.txt:12", "pkg@1.2.3").
	Location string `json:"location,omitempty"`
	// Reason says why the rule exists; it is the rule's documentation.
	Reason string `json:"reason,omitempty"`
}

// Artifact is one thing that was examined: a file as walked, a directory
// summary, or a manifest.
type Artifact struct {
	Path     string    `json:"path"`
	Format   string    `json:"format"`
	Verdict  Verdict   `json:"verdict"`
	Size     int64     `json:"size,omitempty"`
	Findings []Finding `json:"findings"`
	// Properties carries verb-specific facts (hashes, digests, counts).
	Properties map[string]string `json:"properties,omitempty"`
	// Model is what a model file's header says about the model, as read
	// by the analyser of its format; nil for files that are not models
	// or whose header could not be read.
	Model *Model `json:"model,omitempty"`
}

// Model holds the facts a model file states about itself in its header
// (never in its tensor data): the analysers report them while they
// check the header, and every verb reads them from here (bom for its
// model components, deps for the model kinds that exercise advisories).
// Unknown facts are left zero.
type Model struct {
	// Parameters is the number of tensor elements (0 when unknown).
	Parameters int64 `json:"parameters,omitempty"`
	// Tensors is the number of tensors the header declares.
	Tensors int `json:"tensors,omitempty"`
	// DTypes are the distinct tensor element types, sorted, in the
	// format's own names ("F32", "Q4_K", "FLOAT").
	DTypes []string `json:"dtypes,omitempty"`
	// Quantization is the quantised storage: a GGUF file type ("Q4_K_M")
	// or the quantised dtypes of safetensors and ONNX ("I8,F8_E4M3").
	Quantization string `json:"quantization,omitempty"`
	// Architecture, Name and License are what the file declares
	// (GGUF general.architecture, general.name, general.license).
	Architecture string `json:"architecture,omitempty"`
	Name         string `json:"name,omitempty"`
	License      string `json:"license,omitempty"`
	// BaseModels are the models this one declares it derives from (GGUF
	// general.base_model.N: repo URL, or organization/name, or name).
	BaseModels []string `json:"base_models,omitempty"`
	// ChatTemplate is true when the file carries a chat template (GGUF
	// tokenizer.chat_template), which loaders render.
	ChatTemplate bool `json:"chat_template,omitempty"`
	// ExternalData is true when tensors live in files beside this one
	// (ONNX external data), which loaders open by the names given.
	ExternalData bool `json:"external_data,omitempty"`
	// LoadsPickle is true when loading the file runs Python's unpickler
	// (pickle, joblib, torch zip and legacy checkpoints, numpy object
	// arrays).
	LoadsPickle bool `json:"loads_pickle,omitempty"`
	// Meta are other header facts, in a fixed order per format (GGUF
	// context_length, ONNX producer, ir_version and opset, safetensors
	// __metadata__ format, Keras version).
	Meta []KV `json:"meta,omitempty"`
}

// KV is one named fact.
type KV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Add appends a finding and folds its verdict into the artifact's.
func (a *Artifact) Add(f Finding) {
	a.Findings = append(a.Findings, f)
	a.Verdict = Worse(a.Verdict, f.Verdict)
}

// MaxSeverity returns the highest severity among the findings, and false
// when there are none.
func (a *Artifact) MaxSeverity() (Severity, bool) {
	if len(a.Findings) == 0 {
		return 0, false
	}
	m := a.Findings[0].Severity
	for _, f := range a.Findings[1:] {
		if f.Severity > m {
			m = f.Severity
		}
	}
	return m, true
}

// FileLine splits a location of the form "<file>:<line>" (text files,
// manifests, files a directory analysis names); line is 0 and file the
// whole location when it has no line.
func FileLine(loc string) (file string, line int) {
	if k := strings.LastIndexByte(loc, ':'); k > 0 {
		if n, err := strconv.Atoi(loc[k+1:]); err == nil && n >= 0 && loc[k+1] != '+' && loc[k+1] != '-' {
			return loc[:k], n
		}
	}
	return loc, 0
}

// Report is the output of one verb run.
type Report struct {
	Tool      string     `json:"tool"`
	Version   string     `json:"version"`
	Command   string     `json:"command"`
	Artifacts []Artifact `json:"artifacts"`
	Summary   Summary    `json:"summary"`
}

// Summary counts artifacts per verdict and findings per severity.
type Summary struct {
	Artifacts  int            `json:"artifacts"`
	Verdicts   map[string]int `json:"verdicts"`
	Severities map[string]int `json:"severities"`
}

// NewSummary is an empty summary to Add artifacts to.
func NewSummary() Summary {
	return Summary{Verdicts: map[string]int{}, Severities: map[string]int{}}
}

// Add counts one artifact.
func (s *Summary) Add(a *Artifact) {
	s.Artifacts++
	s.Verdicts[a.Verdict.String()]++
	for _, f := range a.Findings {
		s.Severities[f.Severity.String()]++
	}
}

// Finish fills in the summary and gives every artifact a findings list
// (empty, never null). The order of the artifacts is the producer's: each
// verb gives a deterministic one (scan: the walk's).
func (r *Report) Finish() {
	if r.Artifacts == nil {
		r.Artifacts = []Artifact{}
	}
	s := NewSummary()
	for i := range r.Artifacts {
		a := &r.Artifacts[i]
		if a.Findings == nil {
			a.Findings = []Finding{}
		}
		s.Add(a)
	}
	r.Summary = s
}

// Incomplete reports whether a verdict means the artifact was not fully
// analysed: malformed, stopped by a budget, or in a format aigis does not
// analyse. None of them is clean, and none may pass a gate silently.
func (v Verdict) Incomplete() bool {
	return v == Invalid || v == Inconclusive || v == Unsupported
}

// Gate decides whether a report fails a build (the --fail-on threshold
// and --allow-incomplete). The zero Gate fails on any finding, info
// included, and on every incomplete artifact.
type Gate struct {
	// Threshold fails the gate on a finding at or above it, unless
	// NoThreshold is set (--fail-on none).
	Threshold   Severity
	NoThreshold bool
	// AllowIncomplete lets invalid, inconclusive and unsupported
	// artifacts pass when their findings are below the threshold. It is
	// off unless the user asks for it by name.
	AllowIncomplete bool
}

// Fails reports whether a fails the gate, and why.
func (g Gate) Fails(a *Artifact) (bool, string) {
	if m, ok := a.MaxSeverity(); ok && !g.NoThreshold && m >= g.Threshold {
		return true, fmt.Sprintf("a %s finding", m)
	}
	if a.Verdict.Incomplete() && !g.AllowIncomplete {
		return true, fmt.Sprintf("%s (not fully analysed)", a.Verdict)
	}
	return false, ""
}

// Fails reports whether any artifact of r fails g.
func (r *Report) Fails(g Gate) bool {
	for i := range r.Artifacts {
		if fail, _ := g.Fails(&r.Artifacts[i]); fail {
			return true
		}
	}
	return false
}

// Decode reads a report written by the JSON encoder. It exists for tests and
// for tools that post-process aigis output.
func Decode(b []byte) (*Report, error) {
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
