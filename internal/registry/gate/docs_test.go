package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// docs/registry.md documents the default policy verbatim and an example
// result that decodes into Result field for field, and on whose input the
// default policy gives the reasons the example shows.
func TestDocsMatchTheCode(t *testing.T) {
	raw, err := os.ReadFile("../../../docs/registry.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	if !strings.Contains(doc, "```cel\n"+DefaultPolicy+"```\n") {
		t.Error("docs/registry.md does not show DefaultPolicy verbatim")
	}
	_, rest, ok := strings.Cut(doc, "\nAn example:")
	if !ok {
		t.Fatal("no example in docs/registry.md")
	}
	_, rest, _ = strings.Cut(rest, "```json\n")
	example, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("the example is not a json block")
	}
	var res Result
	dec := json.NewDecoder(strings.NewReader(example))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("the example is not a Result: %v", err)
	}
	if res.Version != Version || res.Policy != policyInfo(Config{}) {
		t.Errorf("the example is of %s with policy %+v, not %s with %+v", res.Version, res.Policy, Version, policyInfo(Config{}))
	}
	pol, err := compilePolicy("", DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	in, err := policyInput(&res.Input)
	if err != nil {
		t.Fatal(err)
	}
	reasons, err := pol.eval(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(reasons, res.Reasons) || res.Allowed {
		t.Errorf("the default policy gives\n%q\nthe example shows\n%q", reasons, res.Reasons)
	}
	// Every field the code writes is in the example.
	round, _ := json.Marshal(&res)
	var a, b map[string]any
	json.Unmarshal(round, &a)
	json.NewDecoder(bytes.NewReader([]byte(example))).Decode(&b)
	if len(a) != len(b) {
		t.Errorf("the example has %d top-level fields, the result %d", len(b), len(a))
	}
}
