package osvdb

import "testing"

func TestScoreOf(t *testing.T) {
	cases := []struct {
		name   string
		record string
		rating Rating
		base   float64
	}{
		{"CVSS v3.1 critical", `{"id":"X","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],"affected":[]}`, RatingCritical, 9.8},
		{"CVSS v3.1 medium (real PYSEC-2023-141 vector)", `{"id":"X","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N"}],"affected":[]}`, RatingMedium, 5.4},
		{"CVSS v3.0 high", `{"id":"X","severity":[{"type":"CVSS_V3","score":"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],"affected":[]}`, RatingHigh, 7.5},
		{"CVSS v4 preferred over v3", `{"id":"X","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L"},{"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}],"affected":[]}`, RatingCritical, 9.3},
		{"CVSS v2", `{"id":"X","severity":[{"type":"CVSS_V2","score":"AV:N/AC:L/Au:N/C:P/I:P/A:P"}],"affected":[]}`, RatingHigh, 7.5},
		{"database_specific fallback", `{"id":"X","database_specific":{"severity":"MODERATE"},"affected":[]}`, RatingMedium, 0},
		{"garbage vector falls back", `{"id":"X","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/nonsense"}],"database_specific":{"severity":"LOW"},"affected":[]}`, RatingLow, 0},
		{"nothing known", `{"id":"X","affected":[]}`, RatingUnknown, 0},
		{"malicious is critical", `{"id":"MAL-2026-1","database_specific":{"severity":"LOW"},"affected":[]}`, RatingCritical, 0},
		{"MAL alias is critical", `{"id":"GHSA-x","aliases":["MAL-2025-9"],"affected":[]}`, RatingCritical, 0},
	}
	for _, c := range cases {
		r, err := ParseRecord([]byte(c.record))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		s := ScoreOf(r, nil)
		if s.Rating != c.rating || s.Base != c.base {
			t.Errorf("%s: got %v %.1f (%s), want %v %.1f", c.name, s.Rating, s.Base, s.Source, c.rating, c.base)
		}
	}
}
