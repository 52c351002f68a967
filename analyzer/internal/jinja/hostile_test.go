package jinja

import (
	"strings"
	"testing"
	"time"
)

// Hostile inputs end quickly, in a finding or a budget, never a hang.
func TestJinja_HostileInputsAreBounded(t *testing.T) {
	big := func(unit string) string { return strings.Repeat(unit, (MaxSize/16)/len(unit)) }
	var dict strings.Builder
	dict.WriteString("{% set d = {")
	for i := 0; i < 5000; i++ {
		if i > 0 {
			dict.WriteString(",")
		}
		dict.WriteString("'k" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "':1")
	}
	dict.WriteString("} %}")
	cases := map[string]string{
		"concat":    "{{ a" + big(" ~ a") + " }}",
		"parens":    "{{ " + strings.Repeat("(", 20000) + "1" + strings.Repeat(")", 20000) + " }}",
		"sets":      big("{% set a = a ~ a %}"),
		"macros":    big("{% macro m(x) %}{{ m(x ~ x) }}{% endmacro %}"),
		"dicts":     strings.Repeat(dict.String(), (MaxSize/16)/dict.Len()+1),
		"loops":     big("{% for x in y %}{% set y = [x, y] %}"),
		"strmul":    big("{% set s = s * 2 %}"),
		"lists":     "{% set l = [" + big("1,") + "1] %}{{ l|join }}",
		"unclosed":  big("{{ "),
		"dunders":   big("{{ x.__class__ }}"),
		"nsattrs":   "{% set ns = namespace() %}" + big("{% set ns.a = ns.a ~ ns.b %}{% set ns.b = ns.a ~ 'x' %}"),
		"format":    big("{{ '{0.a}{0.b}{0.c}'.format(x) }}"),
		"callchain": "{{ f" + big("()") + " }}",
	}
	for name, src := range cases {
		st := time.Now()
		got := Analyze(src)
		d := time.Since(st)
		r := ""
		if len(got) > 0 {
			r = string(got[0].Rule)
		}
		_ = r
		if d > 3*time.Second {
			t.Errorf("%s took %v", name, d)
		}
	}
}
