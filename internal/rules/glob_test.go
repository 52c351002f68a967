package rules

import (
	"regexp"
	"strings"
	"testing"
)

// globRegexp is the specification of a glob: its meaning as a regexp.
func globRegexp(p string) *regexp.Regexp {
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '*' && i+1 < len(p) && p[i+1] == '*':
			re.WriteString(`(?s:.*)`)
			i++
		case c == '*':
			re.WriteString(`[^.]*`)
		case c == '[':
			j := strings.IndexByte(p[i+1:], ']') + i + 1
			if j == i+1 { // "[]...]": the first ] is a member
				j = strings.IndexByte(p[i+2:], ']') + i + 2
			}
			class := p[i+1 : j]
			re.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i = j
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String())
}

// policyGlobs is every name pattern of the embedded policy, plus a few
// shapes it does not use yet.
func policyGlobs(t testing.TB) []string {
	pats := []string{"a*b*c", "**.x_*", "[a-c]z", "x**y**z", "*", "**"}
	for _, r := range Pickle().AllRules() {
		for _, g := range r.Globals {
			_, name, _ := strings.Cut(g, ":")
			pats = append(pats, name)
		}
	}
	return pats
}

var globNames = []string{
	"", ".", "system", "os.system", "Tensor", "tensor", "FloatStorage", "float32", "_rebuild_tensor_v2",
	"__pyx_unpickle_Enum", "LinearRegression", "nn.Linear", "a.write_bytes", "Path.write_text", "XGBClassifier",
	"csr_matrix", "x.y.z", "abc", "aXbYc", "ab.c", "z", "dz", "x.y", "ünïcode", "\xff\xfe", "a\nb", "Error", "ValueError",
	strings.Repeat(".write_", 2000), strings.Repeat("a", 5000) + "b",
}

func TestGlobMatchesItsRegexp(t *testing.T) {
	for _, p := range policyGlobs(t) {
		g, err := compileGlob(p)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		re := globRegexp(p)
		for _, n := range globNames {
			if got, want := g.match(n), re.MatchString(n); got != want {
				t.Errorf("glob %q on %.40q: %v, regexp says %v", p, n, got, want)
			}
		}
	}
}

func TestGlobRejectsBadPatterns(t *testing.T) {
	for _, p := range []string{"[a-", "[z-a]", "[é]", "[!a]", "[^a]", "é", strings.Repeat("a", 64)} {
		if _, err := compileGlob(p); err == nil {
			t.Errorf("%q compiled", p)
		}
	}
}

func FuzzGlob(f *testing.F) {
	f.Add("**.write_*", "Path.write_text")
	f.Add("[A-Z]*", "Linear")
	f.Add("*_matrix", "csr.matrix")
	f.Fuzz(func(t *testing.T, p, name string) {
		g, err := compileGlob(p)
		if err != nil {
			return
		}
		defer func() {
			if recover() != nil {
				t.Skip("pattern is not a valid regexp either")
			}
		}()
		re := globRegexp(p)
		if got, want := g.match(name), re.MatchString(name); got != want {
			t.Fatalf("glob %q on %q: %v, regexp says %v", p, name, got, want)
		}
	})
}
