package license

import (
	"testing"

	"github.com/github/go-spdx/v2/spdxexp"
)

// Every SPDX id in the table is an active SPDX licence id, and every
// LicenseRef is a valid SPDX expression.
func TestTableIsValidSPDX(t *testing.T) {
	for _, slug := range Slugs() {
		i := Lookup(slug, "", "")
		if i.SPDX != "" {
			if ok, _ := spdxexp.ActiveLicense(i.SPDX); !ok {
				t.Errorf("%s -> %s is not an active SPDX id", slug, i.SPDX)
			}
		}
		if ok, bad := spdxexp.ValidateLicenses([]string{i.ID()}); !ok {
			t.Errorf("%s -> %s is not a valid expression: %v", slug, i.ID(), bad)
		}
	}
}

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		in, name, id string
		restrictive  bool
		flag         string
	}{
		{"apache-2.0", "", "Apache-2.0", false, ""},
		{"Apache-2.0", "", "Apache-2.0", false, ""},
		{"llama3", "", "LicenseRef-llama3", true, "commercial-threshold"},
		{"cc-by-nc-4.0", "", "CC-BY-NC-4.0", true, "non-commercial"},
		{"cc-by-sa-4.0", "", "CC-BY-SA-4.0", false, "copyleft"},
		{"openrail++", "", "LicenseRef-openrail-plus-plus", true, "use-restrictions"},
		{"other", "Acme Model Licence v2", "LicenseRef-Acme-Model-Licence-v2", true, "unknown"},
		{"made-up", "", "LicenseRef-made-up", true, "unknown"},
	} {
		i := Lookup(tc.in, tc.name, "")
		if i.ID() != tc.id || i.Restrictive() != tc.restrictive || tc.flag != "" && !i.Has(tc.flag) {
			t.Errorf("%s: %+v", tc.in, i)
		}
		if tc.flag != "" && Reason(tc.flag) == "" {
			t.Errorf("flag %s has no reason", tc.flag)
		}
	}
}
