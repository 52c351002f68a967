package sarifschema

import (
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The validator must accept a minimal log and reject what GitHub and the
// schema reject, or a passing test proves nothing.
func TestSchemaCatchesMistakes(t *testing.T) {
	s := Load(t)
	s.Validate(t, []byte(`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[]}]}`))
	for name, doc := range map[string]string{
		"wrong version":    `{"version":"2.0.0","runs":[]}`,
		"no driver name":   `{"version":"2.1.0","runs":[{"tool":{"driver":{}}}]}`,
		"unknown property": `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[],"bogus":1}]}`,
		"startLine 0":      `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"a"},"region":{"startLine":0}}}]}]}]}`,
		"bad level":        `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"level":"critical"}]}]}`,
		"relative helpUri": `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","rules":[{"id":"r","helpUri":"docs/r.md"}]}}}]}`,
		"non-string print": `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"partialFingerprints":{"k":1}}]}]}`,
	} {
		if err := s.s.Validate(mustJSON(t, doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func mustJSON(t *testing.T, doc string) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
