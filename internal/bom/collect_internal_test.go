package bom

import (
	"regexp"
	"strings"
	"testing"
)

// hubIDSpec is the Hub's repository id rule; isHubID implements it
// without a regexp so the binary starts faster.
var hubIDSpec = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$`)

func TestIsHubID(t *testing.T) {
	for _, id := range []string{
		"", "/", "a", "a/", "/a", "gpt2", "openai-community/gpt2", "google-bert/bert-base-uncased",
		"a/b/c", "-a", "a/-b", ".a", "a_b.c-d/E.F_g-1", "ünicode/x", "a b", "a//b",
		strings.Repeat("a", 96), strings.Repeat("a", 97), "x/" + strings.Repeat("b", 96), "x/" + strings.Repeat("b", 97),
	} {
		if got, want := isHubID(id), hubIDSpec.MatchString(id); got != want {
			t.Errorf("isHubID(%q) = %v, want %v", id, got, want)
		}
	}
}

func FuzzIsHubID(f *testing.F) {
	f.Add("openai-community/gpt2")
	f.Add("a/-")
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := isHubID(id), hubIDSpec.MatchString(id); got != want {
			t.Fatalf("isHubID(%q) = %v, want %v", id, got, want)
		}
	})
}
