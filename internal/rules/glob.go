package rules

import "fmt"

// glob is a compiled name pattern of pickle.yaml: literal bytes, '*' (a
// run without dots), '**' (any run) and '[...]' (one ASCII byte of a
// class of single bytes and ranges; no negation, so a class never matches
// part of a multi-byte character). Matching simulates the
// pattern as an NFA over a bitset of positions, so it is linear in the
// name whatever the pattern, like RE2 and unlike backtracking globs; it
// costs nothing to compile, where regexps made every run of the binary
// pay milliseconds for the whole rule file.
type glob struct {
	toks  []gtok
	lit   string // the whole pattern when it has no wildcard
	exact bool
}

type gtokKind uint8

const (
	gLit gtokKind = iota
	gClass
	gStar  // [^.]*
	gDStar // .*
)

type gtok struct {
	kind  gtokKind
	c     byte
	class [4]uint64 // gClass: bit b set if byte b matches
}

const maxGlobToks = 63

func compileGlob(p string) (glob, error) {
	var g glob
	exact := true
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '*' && i+1 < len(p) && p[i+1] == '*':
			g.toks = append(g.toks, gtok{kind: gDStar})
			exact = false
			i++
		case c == '*':
			g.toks = append(g.toks, gtok{kind: gStar})
			exact = false
		case c == '[':
			t, n, err := parseClass(p[i:])
			if err != nil {
				return glob{}, err
			}
			g.toks = append(g.toks, t)
			exact = false
			i += n - 1
		case c >= 0x80:
			return glob{}, fmt.Errorf("non-ASCII byte in %q", p)
		default:
			g.toks = append(g.toks, gtok{kind: gLit, c: c})
		}
	}
	if len(g.toks) > maxGlobToks {
		return glob{}, fmt.Errorf("more than %d pattern elements", maxGlobToks)
	}
	if exact {
		g.lit, g.exact, g.toks = p, true, nil
	}
	return g, nil
}

// parseClass parses "[...]" at the start of p and returns its length.
func parseClass(p string) (gtok, int, error) {
	t := gtok{kind: gClass}
	i := 1
	if i < len(p) && (p[i] == '^' || p[i] == '!') {
		return gtok{}, 0, fmt.Errorf("negated class in %q", p)
	}
	start := i
	for ; i < len(p) && (p[i] != ']' || i == start); i++ {
		lo, hi := p[i], p[i]
		if i+2 < len(p) && p[i+1] == '-' && p[i+2] != ']' {
			hi = p[i+2]
			i += 2
		}
		if lo >= 0x80 || hi >= 0x80 || lo > hi {
			return gtok{}, 0, fmt.Errorf("bad class %q", p)
		}
		for b := int(lo); b <= int(hi); b++ {
			t.class[b/64] |= 1 << (b % 64)
		}
	}
	if i >= len(p) {
		return gtok{}, 0, fmt.Errorf("unclosed [ in %q", p)
	}
	return t, i + 1, nil
}

func (g *glob) match(s string) bool {
	if g.exact {
		return s == g.lit
	}
	m := len(g.toks)
	accept := uint64(1) << m
	set := g.closure(1)
	for i := 0; i < len(s) && set != 0; i++ {
		c := s[i]
		var next uint64
		for k := 0; k < m; k++ {
			if set&(1<<k) == 0 {
				continue
			}
			t := &g.toks[k]
			switch t.kind {
			case gLit:
				if c == t.c {
					next |= 1 << (k + 1)
				}
			case gClass:
				if t.class[c/64]&(1<<(c%64)) != 0 {
					next |= 1 << (k + 1)
				}
			case gStar:
				if c != '.' {
					next |= 1 << k
				}
			case gDStar:
				next |= 1 << k
			}
		}
		set = g.closure(next)
	}
	return set&accept != 0
}

// closure adds the positions reachable by letting stars match nothing.
func (g *glob) closure(set uint64) uint64 {
	for k, t := range g.toks {
		if set&(1<<k) != 0 && (t.kind == gStar || t.kind == gDStar) {
			set |= 1 << (k + 1)
		}
	}
	return set
}
