package hfrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/analyzer/internal/jinja"
	"github.com/aigis-dev/aigis/internal/decode/pyjson"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// Config analyses JSON and YAML configuration files that carry chat
// templates or Hydra targets. Other text is handed back to the engine
// (ErrNotFormat) and stays format "other".
type Config struct{}

func (Config) Name() string { return "config" }

// maxParsedConfig bounds the YAML documents parsed whole (a parsed
// document costs about ten times its size). JSON is read as a stream at
// any size: tokenizer configs run to many megabytes, and Python's json
// loads them all.
const maxParsedConfig = 4 << 20

// maxTextSearch bounds how much of one text file is searched for the
// markers. Past it a file whose name is a configuration's is not vouched
// for; other text that large is data (a dataset), which no loader reads
// as a configuration.
const maxTextSearch = 1 << 30

// Match accepts text: no NUL byte and valid UTF-8 in the head.
func (Config) Match(s *analyzer.Sniff) bool {
	h := s.Head
	if len(h) == 0 || bytes.IndexByte(h, 0) >= 0 {
		return false
	}
	// The head may end inside a multi-byte character.
	for i := 0; i < 3 && len(h) > 0 && !utf8.Valid(h); i++ {
		h = h[:len(h)-1]
	}
	return utf8.Valid(h)
}

var markers = [][]byte{[]byte("chat_template"), []byte("_target_")}

func (Config) Analyze(ctx context.Context, in *analyzer.Input, out *analyzer.Result) error {
	ra, size, err := in.ReaderAt()
	if err != nil {
		return err
	}
	if size > maxTextSearch {
		if isConfigName(in.Hint) {
			out.SetFormat("config")
			out.Add(rules.New(rules.LimitReached, out.Here(), fmt.Sprintf("a %d-byte configuration file is larger than the %d bytes searched", size, int64(maxTextSearch))))
			return nil
		}
		return analyzer.ErrNotFormat
	}
	found, first, err := scanText(ctx, ra, size)
	if err != nil {
		return err
	}
	if !found {
		return analyzer.ErrNotFormat
	}
	c := &cfg{out: out, rs: rules.Format("hfrepo")}
	format := "yaml-config"
	if first == '{' || first == '[' {
		format = "json-config"
		v := &jsonVisitor{ctx: ctx, c: c}
		err := pyjson.Walk(io.NewSectionReader(ra, 0, size), pyjson.Limits{MaxDepth: maxCfgDepth, MaxString: jinja.MaxSize + 1}, v)
		var se *pyjson.SyntaxError
		switch {
		case errors.As(err, &se):
			return analyzer.ErrNotFormat // not a document json.load reads
		case errors.Is(err, pyjson.ErrDepth):
			out.SetFormat(format)
			out.Add(rules.New(rules.LimitReached, out.Here(), fmt.Sprintf("JSON nested deeper than %d levels; not analysed completely", maxCfgDepth)))
			c.relevant = true
		case err != nil:
			return err
		}
	} else {
		if size > maxParsedConfig {
			// Python's yaml loads it all; aigis does not parse YAML this
			// large, so the file is not vouched for.
			out.SetFormat(format)
			out.Add(rules.New(rules.LimitReached, out.Here(), fmt.Sprintf("%d bytes of YAML that names a chat template or a Hydra target; larger than the %d-byte parse budget", size, maxParsedConfig)))
			return nil
		}
		b := make([]byte, size)
		if _, err := ra.ReadAt(b, 0); err != nil && int64(len(b)) != size {
			return err
		}
		var doc any
		if yaml.Unmarshal(b, &doc) != nil {
			return analyzer.ErrNotFormat
		}
		c.walk(doc, "$", 0)
	}
	if !c.relevant {
		return analyzer.ErrNotFormat
	}
	out.SetFormat(format)
	for _, f := range c.findings {
		out.Add(f)
	}
	return nil
}

// isConfigName tells the names loaders read as configurations.
func isConfigName(name string) bool {
	n := strings.ToLower(path.Base(name))
	return strings.HasSuffix(n, "config.json") || strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml") || strings.HasSuffix(n, ".jinja")
}

// scanText reads the content once, in chunks, and reports whether a marker
// occurs and the first byte that is not whitespace.
func scanText(ctx context.Context, ra io.ReaderAt, size int64) (found bool, first byte, err error) {
	const chunk = 1 << 20
	keep := 0
	for _, m := range markers {
		keep = max(keep, len(m)-1)
	}
	buf := make([]byte, keep+int(min(chunk, size)))
	carry := 0
	for off := int64(0); off < size; off += chunk {
		if err := ctx.Err(); err != nil {
			return false, 0, err
		}
		n, err := ra.ReadAt(buf[carry:carry+int(min(chunk, size-off))], off)
		if err != nil && !errors.Is(err, io.EOF) {
			return false, 0, err
		}
		win := buf[:carry+n]
		if first == 0 {
			if t := bytes.TrimLeft(win, " \t\r\n\ufeff"); len(t) > 0 {
				first = t[0]
			}
		}
		for _, m := range markers {
			if bytes.Contains(win, m) {
				return true, first, nil
			}
		}
		carry = copy(buf, win[max(0, len(win)-keep):])
	}
	return false, first, nil
}

// jsonVisitor finds chat templates and Hydra targets in a JSON stream.
type jsonVisitor struct {
	ctx context.Context
	c   *cfg
	n   int
}

func (v *jsonVisitor) Enter([]pyjson.Elem, bool) error { return nil }
func (v *jsonVisitor) Leave([]pyjson.Elem, bool) error { return nil }

func (v *jsonVisitor) Value(p []pyjson.Elem, k pyjson.Kind, text string, truncated bool) error {
	if v.n++; v.n%4096 == 0 {
		if err := v.ctx.Err(); err != nil {
			return err
		}
	}
	if k != pyjson.String || len(p) == 0 {
		return nil
	}
	last := p[len(p)-1]
	if !last.IsIndex && last.Key == "_target_" {
		v.c.relevant = true
		v.c.target(text, jsonPath(p))
		return nil
	}
	// chat_template: "..." or chat_template: [{"name": ..., "template": "..."}]
	isTemplateKey := func(e pyjson.Elem) bool { return !e.IsIndex && strings.HasPrefix(e.Key, "chat_template") }
	n := len(p)
	if isTemplateKey(last) || n >= 3 && last.Key == "template" && !last.IsIndex && p[n-2].IsIndex && isTemplateKey(p[n-3]) {
		v.c.relevant = true
		v.c.template(text, jsonPath(p))
	}
	return nil
}

func jsonPath(p []pyjson.Elem) string {
	var b strings.Builder
	b.WriteString("$")
	for _, e := range p {
		if e.IsIndex {
			fmt.Fprintf(&b, "[%d]", e.Index)
		} else {
			b.WriteString("." + e.Key)
		}
	}
	return b.String()
}

type cfg struct {
	out      *analyzer.Result
	rs       *rules.Set
	relevant bool
	findings []report.Finding
}

const maxCfgDepth = 128

func (c *cfg) walk(v any, at string, depth int) {
	if depth > maxCfgDepth {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			e := x[k]
			p := at + "." + k
			switch {
			case k == "_target_":
				if s, ok := e.(string); ok {
					c.relevant = true
					c.target(s, p)
				}
			case k == "chat_template" || strings.HasPrefix(k, "chat_template"):
				c.templates(e, p)
			}
			c.walk(e, p, depth+1)
		}
	case []any:
		for i, e := range x {
			c.walk(e, fmt.Sprintf("%s[%d]", at, i), depth+1)
		}
	}
}

// templates handles a chat_template value: a string, or a list of
// {name, template} entries.
func (c *cfg) templates(v any, at string) {
	switch x := v.(type) {
	case string:
		c.relevant = true
		c.template(x, at)
	case []any:
		for i, e := range x {
			if m, ok := e.(map[string]any); ok {
				c.templates(m["template"], fmt.Sprintf("%s[%d]", at, i))
			}
		}
	}
}

// template analyses one chat template.
func (c *cfg) template(src, at string) {
	for _, is := range jinja.Analyze(src) {
		is.Msg = at + ": " + is.Msg
		c.findings = append(c.findings, is.Finding(c.out.Here()))
	}
}

// target judges a Hydra _target_.
func (c *cfg) target(s, at string) {
	s = strings.TrimSpace(s)
	if c.rs.List("hydra_allowed").HasPrefix(s) {
		return
	}
	mod, name := s, ""
	if i := strings.LastIndexByte(s, '.'); i > 0 {
		mod, name = s[:i], s[i+1:]
	}
	if name == "" {
		mod, name = "builtins", s
	}
	d := rules.Pickle().Classify(mod, name)
	if d.Action == rules.Deny {
		c.findings = append(c.findings, rules.New(rules.HydraDangerousTarget, c.out.Here(), fmt.Sprintf("%s: _target_ %q (%s)", at, s, d.Rule.ID)))
		return
	}
	c.findings = append(c.findings, rules.New(rules.HydraUnknownTarget, c.out.Here(), fmt.Sprintf("%s: _target_ %q", at, s)))
}
