// Package typosquat spots dependency names that imitate popular ML and
// Python packages (edit distance, look-alike characters, brand + affix) or
// that belong to another package index (pytorch-mutex, torchtriton). The
// names and rules are embedded data (names.yaml), not code.
//
// It judges names only: it never contacts an index, and it must never
// report a name listed as popular or legitimate.
package typosquat

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/aigis-dev/aigis/internal/osvdb"
)

//go:embed names.yaml
var namesYAML []byte

type data struct {
	Popular     []string          `yaml:"popular"`
	Legitimate  []string          `yaml:"legitimate"`
	Brands      []string          `yaml:"brands"`
	Affixes     []string          `yaml:"affixes"`
	Confusables map[string]string `yaml:"confusables"`
	Foreign     map[string]string `yaml:"foreign"`
}

type checker struct {
	data
	known     map[string]bool   // popular + legitimate
	skeletons map[string]string // skeleton -> popular name
	confOrder []string          // confusable keys, longest first
}

var rules = sync.OnceValue(func() *checker {
	c := &checker{known: map[string]bool{}, skeletons: map[string]string{}}
	if err := yaml.Unmarshal(namesYAML, &c.data); err != nil {
		panic("typosquat: embedded names.yaml: " + err.Error())
	}
	for k := range c.Confusables {
		c.confOrder = append(c.confOrder, k)
	}
	sort.Slice(c.confOrder, func(i, j int) bool {
		if len(c.confOrder[i]) != len(c.confOrder[j]) {
			return len(c.confOrder[i]) > len(c.confOrder[j])
		}
		return c.confOrder[i] < c.confOrder[j]
	})
	for i, p := range c.Popular {
		c.Popular[i] = norm(p)
	}
	for _, n := range append(append([]string{}, c.Popular...), c.Legitimate...) {
		c.known[norm(n)] = true
	}
	for _, p := range c.Popular {
		c.skeletons[c.skeleton(p)] = p
	}
	return c
})

func norm(n string) string { return osvdb.NormalizeName("PyPI", n) }

// Kind says what kind of imitation a name is.
type Kind string

const (
	// Typosquat: a misspelling or look-alike of a popular name.
	Typosquat Kind = "typosquat"
	// Impersonation: a brand with an affix, or a name owned by another
	// index.
	Impersonation Kind = "impersonation"
)

// Verdict explains why a name was flagged.
type Verdict struct {
	Kind Kind
	// Target is the popular name imitated ("" for foreign names).
	Target string
	Reason string
}

// Check judges a PyPI dependency name. ok is false for names that imitate
// nothing known.
func Check(name string) (v Verdict, ok bool) {
	return rules().check(name)
}

func (c *checker) check(name string) (Verdict, bool) {
	n := norm(name)
	if n == "" {
		return Verdict{}, false
	}
	if why, ok := c.Foreign[n]; ok {
		return Verdict{Kind: Impersonation, Reason: why}, true
	}
	if c.known[n] {
		return Verdict{}, false
	}
	if p, ok := c.skeletons[c.skeleton(n)]; ok {
		return Verdict{Kind: Typosquat, Target: p, Reason: fmt.Sprintf("%q reads like %q once look-alike characters and separators are undone", n, p)}, true
	}
	for _, p := range c.Popular {
		max := budget(p)
		if max == 0 || abs(len(n)-len(p)) > max {
			continue // cheap bound: length alone exceeds the budget
		}
		if d := distance(n, p); d > 0 && d <= max {
			return Verdict{Kind: Typosquat, Target: p, Reason: fmt.Sprintf("%q is %d edit(s) from the popular package %q", n, d, p)}, true
		}
	}
	for _, b := range c.Brands {
		for _, a := range c.Affixes {
			for _, form := range []string{b + a, b + "-" + a, a + b, a + "-" + b} {
				if n == form {
					return Verdict{Kind: Impersonation, Target: b, Reason: fmt.Sprintf("%q is the brand %q with the affix %q, and not a package published under that brand", n, b, a)}, true
				}
			}
		}
	}
	return Verdict{}, false
}

// budget is the edit distance tolerated for a target: short names have
// too many legitimate neighbours to judge by distance.
func budget(target string) int {
	switch l := len(target); {
	case l < 5:
		return 0
	case l < 10:
		return 1
	default:
		return 2
	}
}

// skeleton folds look-alike characters and drops separators, so
// "t0rch", "tor-ch" and "torch" share one skeleton.
func (c *checker) skeleton(n string) string {
	s := strings.ReplaceAll(n, "-", "")
	for _, k := range c.confOrder {
		s = strings.ReplaceAll(s, k, c.Confusables[k])
	}
	return s
}

// distance is the optimal-string-alignment Damerau-Levenshtein distance
// (a transposition counts as one edit: "pytroch"). Inputs are bounded by
// the caller's name limits; beyond 128 bytes it does not bother.
func distance(a, b string) int {
	if len(a) > 128 || len(b) > 128 {
		return 1 << 30
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
