// Package license maps the licence names found on model and dataset cards
// (Hugging Face Hub slugs such as "apache-2.0", "llama3", "cc-by-nc-4.0",
// "other") to SPDX licence ids, or to LicenseRef-* identifiers where SPDX
// has none, and flags the licences that restrict use (non-commercial,
// no-derivatives, acceptable-use policies, ...).
//
// The mapping is data (hub.yaml, embedded). The package never fetches a
// licence text and never guesses: an unknown name becomes a LicenseRef with
// the "unknown" flag, never a permissive licence.
package license

import (
	_ "embed"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/github/go-spdx/v2/spdxexp"
	"go.yaml.in/yaml/v3"
)

//go:embed hub.yaml
var hubYAML []byte

// Info is one licence as a card declares it and as SPDX names it.
type Info struct {
	// Declared is the value on the card, as written ("apache-2.0").
	Declared string
	// SPDX is the SPDX licence id; "" when SPDX has none.
	SPDX string
	// Ref is the LicenseRef-* identifier when SPDX has no id.
	Ref string
	// Name and URL come from the card's license_name and license_link
	// (used with "other").
	Name, URL string
	// Flags name the restrictions; see Reason.
	Flags []string
}

// ID is the SPDX id or the LicenseRef.
func (i Info) ID() string {
	if i.SPDX != "" {
		return i.SPDX
	}
	return i.Ref
}

// Known reports whether the licence was identified (an SPDX id or a Hub
// licence aigis knows), as opposed to "other"/"unknown" or an unlisted name.
func (i Info) Known() bool { return !i.Has("unknown") }

// Has reports whether the licence carries flag.
func (i Info) Has(flag string) bool {
	for _, f := range i.Flags {
		if f == flag {
			return true
		}
	}
	return false
}

// Restrictive reports whether the licence limits how the model or data may
// be used (anything beyond copyleft obligations).
func (i Info) Restrictive() bool {
	for _, f := range i.Flags {
		if f != "copyleft" {
			return true
		}
	}
	return false
}

type entry struct {
	SPDX  string   `yaml:"spdx"`
	Ref   string   `yaml:"ref"`
	Flags []string `yaml:"flags"`
}

type table struct {
	Flags map[string]string `yaml:"flags"`
	Slugs map[string]entry  `yaml:"slugs"`
}

var load = sync.OnceValues(func() (*table, error) {
	var t table
	if err := yaml.Unmarshal(hubYAML, &t); err != nil {
		return nil, fmt.Errorf("license: embedded hub.yaml: %w", err)
	}
	for slug, e := range t.Slugs {
		if (e.SPDX == "") == (e.Ref == "") {
			return nil, fmt.Errorf("license: %s needs exactly one of spdx and ref", slug)
		}
		for _, f := range e.Flags {
			if _, ok := t.Flags[f]; !ok {
				return nil, fmt.Errorf("license: %s has undocumented flag %q", slug, f)
			}
		}
	}
	return &t, nil
})

func mustLoad() *table {
	t, err := load()
	if err != nil {
		panic(err) // embedded data; covered by tests
	}
	return t
}

// Reason explains a flag.
func Reason(flag string) string { return mustLoad().Flags[flag] }

// Slugs lists every Hub slug the table knows, sorted.
func Slugs() []string {
	t := mustLoad()
	out := make([]string, 0, len(t.Slugs))
	for s := range t.Slugs {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

var refUnsafe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9.-]+`) })

// RefID turns any name into a valid LicenseRef-<idstring>.
func RefID(name string) string {
	s := strings.Trim(refUnsafe().ReplaceAllString(name, "-"), "-")
	if s == "" {
		s = "unknown"
	}
	if len(s) > 64 {
		s = s[:64]
	}
	return "LicenseRef-" + s
}

// Lookup maps one card licence value. name and link are the card's
// license_name and license_link (they name the licence behind "other").
// A value that is already an SPDX id ("Apache-2.0") is accepted as such.
func Lookup(value, name, link string) Info {
	t := mustLoad()
	v := strings.TrimSpace(value)
	info := Info{Declared: v, Name: strings.TrimSpace(name), URL: strings.TrimSpace(link)}
	if e, ok := t.Slugs[strings.ToLower(v)]; ok {
		info.SPDX = e.SPDX
		info.Flags = append([]string(nil), e.Flags...)
		if e.Ref != "" {
			info.Ref = "LicenseRef-" + e.Ref
			if (e.Ref == "other" || e.Ref == "unknown") && info.Name != "" {
				info.Ref = RefID(info.Name)
			}
		}
		return info
	}
	if ok, id := spdxexp.ActiveLicense(v); ok {
		info.SPDX = id
		info.Flags = flagsForSPDX(t, id)
		return info
	}
	info.Ref = RefID(v)
	info.Flags = []string{"unknown"}
	return info
}

// flagsForSPDX gives an SPDX id written directly on a card the flags of
// the Hub slug that maps to it.
func flagsForSPDX(t *table, id string) []string {
	for _, e := range t.Slugs {
		if strings.EqualFold(e.SPDX, id) {
			return append([]string(nil), e.Flags...)
		}
	}
	return nil
}
