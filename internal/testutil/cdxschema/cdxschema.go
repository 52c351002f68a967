// Package cdxschema validates CycloneDX JSON against the official schemas
// in ../shared/schemas/cyclonedx (with the SPDX licence list, JSF and
// cryptography definitions they reference), for tests. It never fetches a
// schema: every $ref resolves to a file in that directory.
package cdxschema

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/aigis-dev/aigis/internal/testutil"
)

const base = "http://cyclonedx.org/schema/"

var (
	mu       sync.Mutex
	compiled = map[string]*jsonschema.Schema{}
)

// Validate checks doc against bom-<version>.schema.json and fails the
// test with the schema errors.
func Validate(t testing.TB, version string, doc []byte) {
	t.Helper()
	sch := schema(t, version)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("CycloneDX %s schema validation failed: %v", version, err)
	}
}

// schema compiles a version's schema once per test binary.
func schema(t testing.TB, version string) *jsonschema.Schema {
	t.Helper()
	dir := testutil.Shared(t, "schemas", "cyclonedx")
	mu.Lock()
	defer mu.Unlock()
	if s := compiled[version]; s != nil {
		return s
	}
	c := jsonschema.NewCompiler()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		if err := c.AddResource(base+e.Name(), v); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
	}
	sch, err := c.Compile(base + "bom-" + version + ".schema.json")
	if err != nil {
		t.Fatalf("compiling the %s schema: %v", version, err)
	}
	compiled[version] = sch
	return sch
}
