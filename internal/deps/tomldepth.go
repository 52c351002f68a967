package deps

import (
	"fmt"
	"path/filepath"
	"strings"
)

// maxTOMLDepth bounds array and inline-table nesting in TOML manifests.
// The TOML parser osv-scalibr uses recurses once per level, and a deep
// enough file overflows the goroutine stack, which no recover catches:
// this check runs first. Real lockfiles nest a handful of levels.
const maxTOMLDepth = 256

// isTOML names the manifests parsed as TOML.
func isTOML(rel string) bool {
	switch b := filepath.Base(rel); b {
	case "poetry.lock", "uv.lock", "pdm.lock", "Cargo.lock":
		return true
	default:
		return strings.HasSuffix(b, ".toml")
	}
}

// checkTOMLDepth measures bracket nesting outside strings and comments,
// following TOML's four string forms so a bracket inside a string is not
// counted and a quote inside a string does not end it early.
func checkTOMLDepth(s []byte) error {
	depth, line := 0, 1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\n':
			line++
		case '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			i-- // let the loop see the newline
		case '[', '{':
			if depth++; depth > maxTOMLDepth {
				return fmt.Errorf("line %d: nested deeper than %d levels", line, maxTOMLDepth)
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		case '"', '\'':
			multi := i+2 < len(s) && s[i+1] == c && s[i+2] == c
			n, nl := skipString(s, i, c, multi)
			i, line = n, line+nl
		}
	}
	return nil
}

// skipString returns the index of the string's last byte and the newlines
// inside it. Unterminated strings run to the end (the parser rejects them).
func skipString(s []byte, i int, q byte, multi bool) (int, int) {
	nl := 0
	if multi {
		for j := i + 3; j < len(s); j++ {
			switch {
			case s[j] == '\n':
				nl++
			case s[j] == '\\' && q == '"':
				j++
				if j < len(s) && s[j] == '\n' {
					nl++
				}
			case s[j] == q && j+2 < len(s) && s[j+1] == q && s[j+2] == q:
				// Up to two more quotes may sit just inside the closing
				// delimiter: the delimiter is the last three of the run.
				end := j + 2
				for end+1 < len(s) && s[end+1] == q && end+1 < j+5 {
					end++
				}
				return end, nl
			}
		}
		return len(s), nl
	}
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q == '"':
			j++
		case s[j] == q:
			return j, nl
		case s[j] == '\n':
			return j - 1, nl // strings end at the line; let the newline count
		}
	}
	return len(s), nl
}
