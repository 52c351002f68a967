package osvdb

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/google/osv-scalibr/semantic"
)

var pep503Separators = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[-_.]+`) })

// NormalizeName returns the name under which a package is indexed: PEP 503
// normalisation for PyPI ("PyYAML", "pyyaml", "py_yaml" are one package),
// the name as written elsewhere.
func NormalizeName(ecosystem, name string) string {
	if BaseEcosystem(ecosystem) == "PyPI" {
		return strings.ToLower(pep503Separators().ReplaceAllString(strings.TrimSpace(name), "-"))
	}
	return strings.TrimSpace(name)
}

// BaseEcosystem drops a ":release" suffix ("Debian:12" -> "Debian").
func BaseEcosystem(e string) string {
	b, _, _ := strings.Cut(e, ":")
	return b
}

// Names reports whether the entry is about the given package.
func (a *Affected) Names(ecosystem, name string) bool {
	return SameEcosystem(a.Ecosystem, ecosystem) &&
		NormalizeName(ecosystem, a.Name) == NormalizeName(ecosystem, name)
}

// SameEcosystem reports whether two ecosystems are one: the same base,
// and the same release when both name one. A Debian:11 entry says nothing
// about the Debian:12 package of the same name (its fixed version is
// another build); an entry without a release applies to every release.
// Ubuntu releases compare by their number ("22.04:LTS", "Pro:22.04:LTS").
func SameEcosystem(a, b string) bool {
	ab, ar, _ := strings.Cut(a, ":")
	bb, br, _ := strings.Cut(b, ":")
	if ab != bb {
		return false
	}
	if ar == "" || br == "" {
		return true
	}
	if ab == "Ubuntu" {
		return ubuntuRelease(ar) == ubuntuRelease(br)
	}
	return ar == br
}

func ubuntuRelease(s string) string {
	for _, p := range strings.Split(s, ":") {
		if len(p) > 0 && p[0] >= '0' && p[0] <= '9' {
			return p
		}
	}
	return s
}

// Affects reports whether version of the entry's package is affected, by
// OSV's rules: it is affected when it is listed in versions[] or lies in
// any SEMVER or ECOSYSTEM range. GIT ranges (and unknown range types) are
// skipped, never a reason to stop looking at the other ranges.
//
// For PyPI a local version label ("2.0.0+cu121") is compared as its public
// version unless the advisory's own version carries a label: PEP 440 says
// local labels are ignored when matching a specifier without one, and a
// +cu121 build is built from the same source as 2.0.0.
//
// An error means a version could not be parsed; the caller must not take
// it as "not affected".
func (a *Affected) Affects(version string) (bool, error) {
	eco := BaseEcosystem(a.Ecosystem)
	pub := publicVersion(eco, version)
	for _, v := range a.Versions {
		if v == version || (pub != version && v == pub) {
			return true, nil
		}
	}
	var firstErr error
	evaluated := false
	for _, r := range a.Ranges {
		var parseEco string
		switch r.Type {
		case RangeEcosystem:
			parseEco = eco
		case RangeSemver:
			parseEco = "Go" // any semver ecosystem: the semantic package parses SemVer 2.0 for it
		default:
			continue
		}
		in, err := rangeContains(r, parseEco, eco, version, pub)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if in {
			return true, nil
		}
		evaluated = true
	}
	// versions[] may spell a version differently ("1.0" vs "1.0.0"); ask
	// the ecosystem's own equality before concluding. Only needed when no
	// range decided: versions[] enumerates what the ranges already cover.
	if len(a.Versions) > 0 && !evaluated {
		if pv, err := semantic.Parse(pub, eco); err == nil {
			for _, v := range a.Versions {
				if c, err := pv.CompareStr(v); err == nil && c == 0 {
					return true, nil
				}
			}
		}
	}
	return false, firstErr
}

// publicVersion strips a PEP 440 local label for PyPI.
func publicVersion(eco, v string) string {
	if eco != "PyPI" {
		return v
	}
	if i := strings.IndexByte(v, '+'); i > 0 {
		return v[:i]
	}
	return v
}

type parsedEvent struct {
	kind string // introduced, fixed, last_affected, limit
	raw  string
	ver  semantic.Version // nil for introduced "0"
}

// rangeContains evaluates one range with the OSV algorithm: sort the
// events by version ("0" lowest), walk them, and let introduced switch
// "affected" on and fixed (>=) / last_affected (>) switch it off. limit
// events bound the range from above: when present the version must be
// below one of them.
func rangeContains(r Range, parseEco, eco, version, pub string) (bool, error) {
	evs := make([]parsedEvent, 0, len(r.Events))
	for _, e := range r.Events {
		var pe parsedEvent
		switch {
		case e.Introduced != "":
			pe = parsedEvent{kind: "introduced", raw: e.Introduced}
		case e.Fixed != "":
			pe = parsedEvent{kind: "fixed", raw: e.Fixed}
		case e.LastAffected != "":
			pe = parsedEvent{kind: "last_affected", raw: e.LastAffected}
		case e.Limit != "":
			pe = parsedEvent{kind: "limit", raw: e.Limit}
		default:
			continue
		}
		if pe.raw == "0" && pe.kind == "introduced" || pe.raw == "*" && pe.kind == "limit" {
			evs = append(evs, pe)
			continue
		}
		v, err := semantic.Parse(pe.raw, parseEco)
		if err != nil {
			return false, fmt.Errorf("%s event %q: %w", pe.kind, pe.raw, err)
		}
		pe.ver = v
		evs = append(evs, pe)
	}
	if len(evs) == 0 {
		return false, nil
	}
	var cmpErr error
	slices.SortStableFunc(evs, func(x, y parsedEvent) int {
		switch {
		case x.ver == nil && y.ver == nil:
			return 0
		case x.ver == nil: // "0" first, "*" handled separately below
			if x.kind == "limit" {
				return 1
			}
			return -1
		case y.ver == nil:
			if y.kind == "limit" {
				return -1
			}
			return 1
		}
		c, err := x.ver.Compare(y.ver)
		if err != nil && cmpErr == nil {
			cmpErr = err
		}
		return c
	})
	if cmpErr != nil {
		return false, cmpErr
	}
	// The package version, public or full per event (see Affects).
	full, err := semantic.Parse(version, parseEco)
	if err != nil {
		return false, fmt.Errorf("version %q: %w", version, err)
	}
	public := full
	if pub != version {
		if public, err = semantic.Parse(pub, parseEco); err != nil {
			return false, fmt.Errorf("version %q: %w", pub, err)
		}
	}
	cmp := func(e parsedEvent) (int, error) {
		v := public
		if eco == "PyPI" && strings.Contains(e.raw, "+") {
			v = full
		}
		return v.Compare(e.ver)
	}
	affected := false
	hasLimit, belowLimit := false, false
	for _, e := range evs {
		if e.kind == "limit" {
			hasLimit = true
			if e.ver == nil {
				belowLimit = true
				continue
			}
			c, err := cmp(e)
			if err != nil {
				return false, err
			}
			if c < 0 {
				belowLimit = true
			}
			continue
		}
		if e.ver == nil { // introduced "0"
			affected = true
			continue
		}
		c, err := cmp(e)
		if err != nil {
			return false, err
		}
		switch e.kind {
		case "introduced":
			if c >= 0 {
				affected = true
			}
		case "fixed":
			if c >= 0 {
				affected = false
			}
		case "last_affected":
			if c > 0 {
				affected = false
			}
		}
	}
	if hasLimit && !belowLimit {
		return false, nil
	}
	return affected, nil
}

// FixedVersions lists the fixed events of the entry's ECOSYSTEM and SEMVER
// ranges, in record order without duplicates: the versions to upgrade to.
func (a *Affected) FixedVersions() []string {
	var out []string
	for _, r := range a.Ranges {
		if r.Type != RangeEcosystem && r.Type != RangeSemver {
			continue
		}
		for _, e := range r.Events {
			if e.Fixed != "" && !slices.Contains(out, e.Fixed) {
				out = append(out, e.Fixed)
			}
		}
	}
	return out
}

// Match returns the entries of r that name the package and affect
// version. Withdrawn records match nothing.
func (r *Record) Match(ecosystem, name, version string) (hits []*Affected, err error) {
	if r.Withdrawn != "" {
		return nil, nil
	}
	for i := range r.Affected {
		a := &r.Affected[i]
		if !a.Names(ecosystem, name) {
			continue
		}
		ok, e := a.Affects(version)
		if e != nil && err == nil {
			err = fmt.Errorf("%s: %w", r.ID, e)
		}
		if ok {
			hits = append(hits, a)
		}
	}
	return hits, err
}
