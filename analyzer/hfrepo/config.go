package hfrepo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/analyzer/internal/jinja"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// Config analyses JSON and YAML configuration files that carry chat
// templates or Hydra targets. Other text is handed back to the engine
// (ErrNotFormat) and stays format "other".
type Config struct{}

func (Config) Name() string { return "config" }

// maxConfigFile bounds the configuration files read and parsed (a parsed
// document costs about ten times its size); larger text is not a
// configuration (datasets, vocabularies).
const maxConfigFile = 4 << 20

// Match accepts text: no NUL byte and valid UTF-8 in the head.
func (Config) Match(s *analyzer.Sniff) bool {
	h := s.Head
	if len(h) == 0 || s.Size > maxConfigFile || bytes.IndexByte(h, 0) >= 0 {
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
	if size > maxConfigFile {
		return analyzer.ErrNotFormat
	}
	b := make([]byte, size)
	if _, err := ra.ReadAt(b, 0); err != nil && int64(len(b)) != size {
		return err
	}
	found := false
	for _, m := range markers {
		if bytes.Contains(b, m) {
			found = true
		}
	}
	if !found {
		return analyzer.ErrNotFormat
	}
	var doc any
	trim := bytes.TrimSpace(b)
	format := "yaml-config"
	if len(trim) > 0 && (trim[0] == '{' || trim[0] == '[') {
		format = "json-config"
		if json.Unmarshal(b, &doc) != nil {
			return analyzer.ErrNotFormat
		}
	} else if yaml.Unmarshal(b, &doc) != nil {
		return analyzer.ErrNotFormat
	}
	c := &cfg{out: out, rs: rules.Format("hfrepo")}
	c.walk(doc, "$", 0)
	if !c.relevant {
		return analyzer.ErrNotFormat
	}
	out.SetFormat(format)
	for _, f := range c.findings {
		out.Add(f)
	}
	return nil
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
		for _, is := range jinja.Analyze(x) {
			is.Msg = at + ": " + is.Msg
			c.findings = append(c.findings, is.Finding(c.out.Here()))
		}
	case []any:
		for i, e := range x {
			if m, ok := e.(map[string]any); ok {
				c.templates(m["template"], fmt.Sprintf("%s[%d]", at, i))
			}
		}
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
