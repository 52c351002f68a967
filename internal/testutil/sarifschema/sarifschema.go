// Package sarifschema validates SARIF logs against the official OASIS
// SARIF 2.1.0 JSON schema in ../shared/schemas/sarif, for tests. It never
// fetches anything: the schema is one self-contained file (draft-04, every
// $ref local), and format assertions ("uri", "uri-reference",
// "date-time") are on.
package sarifschema

import (
	"bytes"
	"os"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/aigis-dev/aigis/internal/testutil"
)

// File is the schema's name in the shared schemas/sarif directory.
const File = "sarif-schema-2.1.0.json"

// id is the schema's own "id", under which it is registered.
const id = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

var (
	mu       sync.Mutex
	compiled *jsonschema.Schema
)

// Schema is the compiled SARIF 2.1.0 schema.
type Schema struct{ s *jsonschema.Schema }

// Load compiles the schema once per test binary. It finds the file with
// testutil.Shared, so it skips (or fails, where the environment demands
// the shared material) when the file is absent. Call it before a test
// changes its working directory: Shared looks for ../shared from there.
func Load(t testing.TB) *Schema {
	t.Helper()
	p := testutil.Shared(t, "schemas", "sarif", File)
	mu.Lock()
	defer mu.Unlock()
	if compiled != nil {
		return &Schema{compiled}
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(id, doc); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatalf("compiling the SARIF schema: %v", err)
	}
	compiled = s
	return &Schema{s}
}

// Validate fails the test with the schema errors when doc is not a valid
// SARIF 2.1.0 log.
func (s *Schema) Validate(t testing.TB, doc []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, doc)
	}
	if err := s.s.Validate(inst); err != nil {
		t.Fatalf("SARIF 2.1.0 schema validation failed: %v", err)
	}
}

// Validate is Load(t).Validate(t, doc).
func Validate(t testing.TB, doc []byte) {
	t.Helper()
	Load(t).Validate(t, doc)
}
