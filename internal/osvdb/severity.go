package osvdb

import (
	"strings"

	cvss20 "github.com/pandatix/go-cvss/20"
	cvss30 "github.com/pandatix/go-cvss/30"
	cvss31 "github.com/pandatix/go-cvss/31"
	cvss40 "github.com/pandatix/go-cvss/40"
)

// Rating is a qualitative severity, ordered.
type Rating int

const (
	RatingUnknown Rating = iota
	RatingLow
	RatingMedium
	RatingHigh
	RatingCritical
)

var ratingNames = [...]string{"unknown", "low", "medium", "high", "critical"}

func (r Rating) String() string { return ratingNames[r] }

// Score is a record's severity: where it came from and what it says.
type Score struct {
	Rating Rating
	// Base is the CVSS base score, 0 when the rating came from elsewhere.
	Base float64
	// Source is the vector used ("CVSS:3.1/AV:N/...") or
	// "database_specific" or "malicious-package".
	Source string
}

// ScoreOf computes the record's severity for the package entry a (which may
// be nil): the highest CVSS base score among the record's and the entry's
// vectors (v4 preferred over v3 over v2 when a record carries several
// versions); else database_specific.severity; else unknown. MAL- records
// are critical whatever they say: they describe malware, not a bug.
func ScoreOf(r *Record, a *Affected) Score {
	if r.IsMalicious() {
		return Score{Rating: RatingCritical, Source: "malicious-package"}
	}
	sevs := r.Severity
	if a != nil {
		sevs = append(append([]Severity(nil), a.Severity...), r.Severity...)
	}
	best := Score{}
	bestRank := -1
	for _, s := range sevs {
		base, rank, ok := cvssBase(s)
		if !ok {
			continue
		}
		if rank > bestRank || (rank == bestRank && base > best.Base) {
			best = Score{Rating: ratingFromCVSS(base), Base: base, Source: s.Score}
			bestRank = rank
		}
	}
	if bestRank >= 0 {
		return best
	}
	ds := r.DBSeverity
	if a != nil && a.DBSeverity != "" {
		ds = a.DBSeverity
	}
	switch ds {
	case "LOW":
		return Score{Rating: RatingLow, Source: "database_specific"}
	case "MODERATE", "MEDIUM":
		return Score{Rating: RatingMedium, Source: "database_specific"}
	case "HIGH":
		return Score{Rating: RatingHigh, Source: "database_specific"}
	case "CRITICAL":
		return Score{Rating: RatingCritical, Source: "database_specific"}
	}
	return Score{}
}

// cvssBase parses one vector and returns its base score and a rank that
// prefers newer CVSS versions. Unparseable vectors are skipped.
func cvssBase(s Severity) (base float64, rank int, ok bool) {
	v := strings.TrimSpace(s.Score)
	switch {
	case strings.HasPrefix(v, "CVSS:4.0/"):
		c, err := cvss40.ParseVector(v)
		if err != nil {
			return 0, 0, false
		}
		return c.Score(), 3, true
	case strings.HasPrefix(v, "CVSS:3.1/"):
		c, err := cvss31.ParseVector(v)
		if err != nil {
			return 0, 0, false
		}
		return c.BaseScore(), 2, true
	case strings.HasPrefix(v, "CVSS:3.0/"):
		c, err := cvss30.ParseVector(v)
		if err != nil {
			return 0, 0, false
		}
		return c.BaseScore(), 2, true
	case s.Type == "CVSS_V2" && strings.HasPrefix(v, "AV:"):
		c, err := cvss20.ParseVector(v)
		if err != nil {
			return 0, 0, false
		}
		return c.BaseScore(), 1, true
	}
	return 0, 0, false
}

// ratingFromCVSS applies the CVSS v3/v4 qualitative scale (also used for
// v2 scores, as OSV consumers commonly do).
func ratingFromCVSS(s float64) Rating {
	switch {
	case s >= 9.0:
		return RatingCritical
	case s >= 7.0:
		return RatingHigh
	case s >= 4.0:
		return RatingMedium
	case s > 0:
		return RatingLow
	}
	return RatingUnknown
}
