package monitor

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/aigis-dev/aigis/internal/jsonerr"
)

// Record is what the monitor keeps of one request and its response: the
// features the detectors need, never the raw bodies. The proxy builds it
// off the hot path; analyze reads it from a traffic log.
type Record struct {
	Seq  int64     // position in the stream, from 1
	ID   string    // request id (the response's id, X-Request-Id, or the log's)
	Time time.Time // zero when the log has none

	// Fingerprint of the responder.
	Model             string // the response's model field
	SystemFingerprint string // OpenAI system_fingerprint, KServe model_version
	Headers           string // digest of the fingerprinting response headers

	// Classifier output. Label is "" when the response has none.
	Label      string
	Confidence float64 // NaN when unknown
	Probs      []float64

	// Input features: numbers as sent, or hashed words of a text input.
	Input []float64

	// Text is the features of a generated text response (LLM traffic).
	Text *TextFeatures

	// Output is the generated text, kept only when the operator logs
	// content; no detector reads it.
	Output string

	Canary     string // name of the canary this request was, if any
	Status     int    // HTTP status (0 in logs that do not say)
	Incomplete bool   // the response stream broke or was cut

	// The input model's scores, computed once for all detectors.
	scored  bool
	far     float64 // squared distance to the baseline
	inputP  float64 // p-value of far or inconsistent
	nearest int     // nearest baseline class mean
}

// TextFeatures are the features of a generated text: never the text.
type TextFeatures struct {
	Length  int      // words
	Refusal bool     // reads as a refusal
	Lang    string   // ISO 639-1 guess, "und" when unsure
	Tokens  []string // distinct candidate tokens: URLs, domains, words
	Tokens0 int      // usage.output_tokens when the server says
	// Digested: Tokens are already digests (read from a log written
	// without content).
	Digested bool

	digest string // SHA-256 of the text, for canaries
}

// hasConfidence reports whether the record carries a confidence.
func (r *Record) hasConfidence() bool { return !math.IsNaN(r.Confidence) }

// logLine is one line of a traffic log: the shared sample's format
// ({"model","label","confidence","probs","input"}) plus optional fields
// the proxy writes. Unknown fields (including ground truth such as
// "true" and "triggered") are ignored: a detector never reads them.
type logLine struct {
	ID                string          `json:"id,omitempty"`
	Time              string          `json:"time,omitempty"`
	Model             string          `json:"model,omitempty"`
	SystemFingerprint string          `json:"system_fingerprint,omitempty"`
	Headers           string          `json:"headers,omitempty"`
	Label             json.RawMessage `json:"label,omitempty"`
	Confidence        *float64        `json:"confidence,omitempty"`
	Probs             []float64       `json:"probs,omitempty"`
	Input             json.RawMessage `json:"input,omitempty"`
	Output            *string         `json:"output,omitempty"`
	OutputTokens      int             `json:"output_tokens,omitempty"`
	TextFeatures      *textLog        `json:"text,omitempty"`
	Canary            string          `json:"canary,omitempty"`
	Status            int             `json:"status,omitempty"`
	Incomplete        bool            `json:"incomplete,omitempty"`
}

// textLog is the features of a generated text in a log written without
// content: its tokens as digests.
type textLog struct {
	Words   int      `json:"words"`
	Refusal bool     `json:"refusal,omitempty"`
	Lang    string   `json:"lang,omitempty"`
	Tokens  []string `json:"token_digests,omitempty"`
	Digest  string   `json:"sha256,omitempty"`
}

// TextDim is the number of hashed word features of a text input.
const TextDim = 2048

// MaxLogLine bounds one line of a traffic log.
const MaxLogLine = 16 << 20

// ReadLog reads a JSON Lines traffic log (gzip-compressed when the file
// starts with gzip's magic) and calls fn for each record, in order. A
// malformed line is an error naming its line number.
func ReadLog(path string, fn func(*Record) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	var r io.Reader = br
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), MaxLogLine)
	var line int64
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		rec, err := ParseLogLine(b)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("%s:%d: line longer than %d bytes", path, line+1, MaxLogLine)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// LoadLog reads a whole log, at most max records (0: no limit).
func LoadLog(path string, max int) ([]*Record, error) {
	var out []*Record
	errFull := errors.New("full")
	err := ReadLog(path, func(r *Record) error {
		out = append(out, r)
		if max > 0 && len(out) >= max {
			return errFull
		}
		return nil
	})
	if err == errFull {
		err = nil
	}
	return out, err
}

// ParseLogLine decodes one line of a traffic log.
func ParseLogLine(b []byte) (*Record, error) {
	var l logLine
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", jsonerr.Clean(err))
	}
	r := &Record{
		ID: l.ID, Model: l.Model, SystemFingerprint: l.SystemFingerprint, Headers: l.Headers,
		Confidence: math.NaN(), Probs: l.Probs, Canary: l.Canary, Status: l.Status, Incomplete: l.Incomplete,
	}
	if l.Time != "" {
		if t, err := time.Parse(time.RFC3339Nano, l.Time); err == nil {
			r.Time = t
		}
	}
	if len(l.Label) > 0 && string(l.Label) != "null" {
		var s string
		if json.Unmarshal(l.Label, &s) == nil {
			r.Label = s
		} else {
			var f float64
			if err := json.Unmarshal(l.Label, &f); err != nil {
				return nil, errors.New(`"label" is neither a string nor a number`)
			}
			r.Label = strconv.FormatFloat(f, 'g', -1, 64)
		}
	}
	if l.Confidence != nil {
		r.Confidence = *l.Confidence
	}
	if math.IsNaN(r.Confidence) && len(l.Probs) > 0 {
		r.Confidence = maxOf(l.Probs)
	}
	if r.Label == "" && len(l.Probs) > 0 {
		r.Label = strconv.Itoa(argmax(l.Probs))
	}
	if len(l.Input) > 0 {
		in, err := InputFeatures(l.Input)
		if err != nil {
			return nil, err
		}
		r.Input = in
	}
	switch {
	case l.Output != nil:
		r.Text = AnalyzeText(*l.Output)
		r.Text.Tokens0 = l.OutputTokens
	case l.TextFeatures != nil:
		t := l.TextFeatures
		r.Text = &TextFeatures{Length: t.Words, Refusal: t.Refusal, Lang: t.Lang, Tokens: t.Tokens, Tokens0: l.OutputTokens,
			Digested: true, digest: t.Digest}
	}
	return r, nil
}

// InputFeatures turns a JSON input into numeric features: numbers
// (nested arrays flattened) as they are, a string (or strings) as hashed
// word counts.
func InputFeatures(raw json.RawMessage) ([]float64, error) {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf(`"input": %v`, jsonerr.Clean(err))
	}
	return FeaturesOf(v), nil
}

// FeaturesOf flattens a decoded JSON value into features; nil when it
// holds neither numbers nor text.
func FeaturesOf(v any) []float64 {
	var nums []float64
	var text strings.Builder
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 32 || len(nums) > maxFeatures {
			return
		}
		switch x := v.(type) {
		case json.Number:
			f, err := x.Float64()
			if err == nil {
				nums = append(nums, f)
			}
		case float64:
			nums = append(nums, x)
		case bool:
			if x {
				nums = append(nums, 1)
			} else {
				nums = append(nums, 0)
			}
		case string:
			if text.Len() < maxTextBytes {
				text.WriteString(x)
				text.WriteByte(' ')
			}
		case []any:
			for _, e := range x {
				walk(e, depth+1)
			}
		case map[string]any:
			// An object: its values in key order would need sorting; inputs
			// that are objects are read through --input-path instead.
			for _, k := range sortedKeys(x) {
				walk(x[k], depth+1)
			}
		}
	}
	walk(v, 0)
	if len(nums) > 0 {
		if len(nums) > maxFeatures {
			nums = foldFeatures(nums, maxFeatures)
		}
		return nums
	}
	if text.Len() > 0 {
		return HashText(text.String(), TextDim)
	}
	return nil
}

const (
	maxFeatures  = 1024    // longer numeric inputs are folded
	maxTextBytes = 1 << 20 // text beyond this is not hashed
)

// foldFeatures sums a long vector into n buckets (i mod n).
func foldFeatures(x []float64, n int) []float64 {
	out := make([]float64, n)
	for i, v := range x {
		out[i%n] += v
	}
	return out
}

// HashText is the hashed bag of words of s: dim buckets of word counts
// (lower-cased runs of letters and digits), divided by the number of
// words.
func HashText(s string, dim int) []float64 {
	out := make([]float64, dim)
	n := 0
	for _, w := range words(s) {
		h := fnv.New32a()
		h.Write([]byte(w))
		out[h.Sum32()%uint32(dim)]++
		n++
	}
	if n > 0 {
		for i := range out {
			out[i] /= float64(n)
		}
	}
	return out
}

// words splits s into lower-cased runs of letters and digits.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
}

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

func maxOf(x []float64) float64 { return x[argmax(x)] }

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// AppendLog appends r as one line of a traffic log (what ReadLog reads),
// newline included. Input is written as its features; generated text
// only when content is true.
func (r *Record) AppendLog(b []byte, content bool) []byte {
	l := logLine{ID: r.ID, Model: r.Model, SystemFingerprint: r.SystemFingerprint, Headers: r.Headers,
		Probs: r.Probs, Canary: r.Canary, Status: r.Status, Incomplete: r.Incomplete}
	if !r.Time.IsZero() {
		l.Time = r.Time.UTC().Format(time.RFC3339Nano)
	}
	if r.Label != "" {
		l.Label, _ = json.Marshal(r.Label)
	}
	if r.hasConfidence() {
		c := r.Confidence
		l.Confidence = &c
	}
	if len(r.Input) > 0 {
		l.Input, _ = json.Marshal(r.Input)
	}
	if r.Text != nil {
		l.OutputTokens = r.Text.Tokens0
		if content && r.Output != "" {
			o := r.Output
			l.Output = &o
		} else {
			t := &textLog{Words: r.Text.Length, Refusal: r.Text.Refusal, Lang: r.Text.Lang, Digest: r.Text.digest}
			for _, tok := range r.Text.Tokens {
				t.Tokens = append(t.Tokens, r.Text.tokenKey(tok))
			}
			l.TextFeatures = t
		}
	}
	j, err := json.Marshal(l)
	if err != nil {
		return b
	}
	return append(append(b, j...), '\n')
}

// tokenKey names a token by its digest (16 hex digits), as logs written
// without content do, so that both kinds of log compare.
func (t *TextFeatures) tokenKey(tok string) string {
	if t.Digested {
		return tok
	}
	return digestHex(tok)[:16]
}
