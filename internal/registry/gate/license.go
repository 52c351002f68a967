package gate

import (
	"sort"
	"strings"

	"github.com/github/go-spdx/v2/spdxexp"

	"github.com/aigis-dev/aigis/internal/bom"
	"github.com/aigis-dev/aigis/internal/bom/license"
)

// DefaultLicenses is the allowlist of a namespace that configures none:
// permissive licences that put no restriction on use. Copyleft,
// non-commercial, no-derivatives, acceptable-use (OpenRAIL, Llama, Gemma)
// and unknown licences are outside it; a namespace adds them by name.
var DefaultLicenses = []string{
	"Apache-2.0", "MIT", "BSD-2-Clause", "BSD-3-Clause", "BSD-3-Clause-Clear", "ISC", "Zlib", "Unlicense", "0BSD",
	"BSL-1.0", "PostgreSQL", "Python-2.0", "AFL-3.0", "ECL-2.0", "NCSA", "UPL-1.0",
	"CC0-1.0", "CC-BY-2.0", "CC-BY-2.5", "CC-BY-3.0", "CC-BY-4.0", "CDLA-Permissive-1.0", "CDLA-Permissive-2.0",
	"PDDL-1.0", "ODC-By-1.0",
}

// declaredLicense is one licence value as the artifact states it.
type declaredLicense struct{ value, source string }

func addLicense(lic *[]declaredLicense, value, source string) {
	value = strings.TrimSpace(value)
	if value == "" || len(*lic) >= maxMetaList {
		return
	}
	value = truncate(value, 256)
	for _, l := range *lic {
		if l.value == value && l.source == source {
			return
		}
	}
	*lic = append(*lic, declaredLicense{value: value, source: source})
}

// allowlist normalises an allowlist to licence ids (SPDX ids as SPDX
// spells them, LicenseRef-* for Hub licences SPDX lacks).
func allowlist(names []string) []string {
	if names == nil {
		names = DefaultLicenses
	}
	out := []string{}
	for _, n := range names {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		id := license.Lookup(n, "", "").ID()
		if !contains(out, id) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// judgeLicense decides one declared licence against the allowlist. An SPDX
// expression is allowed when the allowlist satisfies it ("MIT OR GPL-3.0"
// with MIT allowed; "MIT AND GPL-3.0" needs both); an unknown name never
// is.
func judgeLicense(d declaredLicense, allow []string) FoundLicense {
	info := license.Lookup(d.value, "", "")
	f := FoundLicense{Declared: d.value, Source: d.source, ID: info.ID(), Flags: append([]string{}, info.Flags...)}
	if info.Known() {
		f.Allowed = containsFold(allow, f.ID)
		return f
	}
	if len(allow) > 0 && strings.ContainsAny(d.value, " ()+") {
		if ok, err := spdxexp.Satisfies(d.value, allow); err == nil {
			f.ID, f.Flags, f.Allowed = d.value, []string{}, ok
			if !ok {
				f.Flags = expressionFlags(d.value)
			}
			return f
		}
	}
	return f
}

// expressionFlags are the flags of the licences an expression names.
func expressionFlags(expr string) []string {
	ids, err := spdxexp.ExtractLicenses(expr)
	if err != nil {
		return []string{"unknown"}
	}
	var out []string
	for _, id := range ids {
		for _, fl := range license.Lookup(id, "", "").Flags {
			if !contains(out, fl) {
				out = append(out, fl)
			}
		}
	}
	sort.Strings(out)
	if out == nil {
		out = []string{}
	}
	return out
}

func containsFold(s []string, v string) bool {
	for _, x := range s {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// bomLicenses adds the licences the BOM found on local models and
// datasets (model cards, weight headers) and on the project.
func bomLicenses(d *bom.Document, lic *[]declaredLicense) {
	if d == nil {
		return
	}
	for _, c := range d.All() {
		if !c.Local || c.Kind == bom.KindLibrary {
			continue
		}
		where := "bom " + string(c.Kind) + " " + c.Path
		if c.Card != nil {
			where = "card " + path2(c.Path, "README.md")
		}
		for _, l := range c.Licenses {
			addLicense(lic, l.Declared, where)
		}
	}
}

func path2(dir, file string) string {
	if dir == "" || dir == "." {
		return file
	}
	return dir + "/" + file
}
