// Package sarifschema validates SARIF logs against the official OASIS
// SARIF 2.1.0 JSON schema in ../shared/schemas/sarif, for tests. It never
// fetches anything: the schema is one self-contained file (draft-04, every
// $ref local), and format assertions ("uri", "uri-reference",
// "date-time") are on.
package sarifschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
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

// Log is the part of a SARIF log that Check reads back.
type Log struct {
	Runs []Run `json:"runs"`
}

// Run is one run of a Log.
type Run struct {
	Tool struct {
		Driver struct {
			Name  string `json:"name"`
			Rules []Rule `json:"rules"`
		} `json:"driver"`
	} `json:"tool"`
	Results            []Result                    `json:"results"`
	OriginalURIBaseIDs map[string]ArtifactLocation `json:"originalUriBaseIds"`
}

// Rule is a reportingDescriptor.
type Rule struct {
	ID               string `json:"id"`
	ShortDescription Text   `json:"shortDescription"`
	FullDescription  Text   `json:"fullDescription"`
	Help             Text   `json:"help"`
	Default          struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
	Properties map[string]any `json:"properties"`
}

// Text is a message or multiformatMessageString.
type Text struct {
	Text string `json:"text"`
}

// Result is one result.
type Result struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           *int              `json:"ruleIndex"`
	Kind                string            `json:"kind"`
	Level               string            `json:"level"`
	Message             Text              `json:"message"`
	Locations           []Location        `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties"`
}

// Location is a result location.
type Location struct {
	PhysicalLocation struct {
		ArtifactLocation ArtifactLocation `json:"artifactLocation"`
		Region           *struct {
			StartLine  int    `json:"startLine"`
			ByteOffset *int64 `json:"byteOffset"`
		} `json:"region"`
	} `json:"physicalLocation"`
	LogicalLocations []struct {
		FullyQualifiedName string `json:"fullyQualifiedName"`
	} `json:"logicalLocations"`
}

// ArtifactLocation is a URI, relative to a base or absolute.
type ArtifactLocation struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId"`
}

// Check validates doc against the schema and against what GitHub code
// scanning requires beyond it, and returns the decoded log:
//
//   - every result has a physical location with an artifact URI and a
//     region with startLine >= 1;
//   - every result has a non-empty partialFingerprints entry, and no two
//     results of a run share a fingerprint;
//   - ruleIndex points at the rule named by ruleId;
//   - every rule has shortDescription, fullDescription and help texts and
//     a numeric security-severity between 0 and 10;
//   - artifact URIs are RFC 3986 references: relative ones carry a
//     uriBaseId declared in originalUriBaseIds (as an absolute URI ending
//     in "/"), the others are absolute file URIs.
func (s *Schema) Check(t testing.TB, doc []byte) *Log {
	t.Helper()
	s.Validate(t, doc)
	return CheckGitHub(t, doc)
}

// CheckGitHub is Check without the schema: GitHub's rules only, for tests
// that must run in a clone without the shared material.
func CheckGitHub(t testing.TB, doc []byte) *Log {
	t.Helper()
	var log Log
	if err := json.Unmarshal(doc, &log); err != nil {
		t.Fatal(err)
	}
	for ri, run := range log.Runs {
		rules := run.Tool.Driver.Rules
		for i, r := range rules {
			if r.ShortDescription.Text == "" || r.FullDescription.Text == "" || r.Help.Text == "" {
				t.Errorf("run %d rule %d (%s): shortDescription, fullDescription and help are required: %+v", ri, i, r.ID, r)
			}
			sev, ok := r.Properties["security-severity"].(string)
			if f, err := strconv.ParseFloat(sev, 64); !ok || err != nil || f < 0 || f > 10 {
				t.Errorf("run %d rule %s: security-severity %v is not a number from 0 to 10", ri, r.ID, r.Properties["security-severity"])
			}
		}
		prints := map[string]int{}
		for i, res := range run.Results {
			where := fmt.Sprintf("run %d result %d (%s)", ri, i, res.RuleID)
			if res.RuleIndex == nil || *res.RuleIndex < 0 || *res.RuleIndex >= len(rules) || rules[*res.RuleIndex].ID != res.RuleID {
				t.Errorf("%s: ruleIndex %v does not name rule %s", where, res.RuleIndex, res.RuleID)
			}
			if len(res.Locations) == 0 {
				t.Errorf("%s: no location (GitHub rejects the file)", where)
				continue
			}
			pl := res.Locations[0].PhysicalLocation
			if pl.ArtifactLocation.URI == "" {
				t.Errorf("%s: no artifact URI", where)
			}
			if pl.Region == nil || pl.Region.StartLine < 1 {
				t.Errorf("%s: no region.startLine (GitHub rejects the file)", where)
			}
			checkURI(t, where, pl.ArtifactLocation, run.OriginalURIBaseIDs)
			if len(res.PartialFingerprints) == 0 {
				t.Errorf("%s: no partialFingerprints", where)
			}
			for k, v := range res.PartialFingerprints {
				if v == "" {
					t.Errorf("%s: empty fingerprint %s", where, k)
				}
				key := res.RuleID + "\x00" + k + "\x00" + v
				if j, dup := prints[key]; dup {
					t.Errorf("%s: fingerprint %s=%s already used by result %d", where, k, v, j)
				}
				prints[key] = i
			}
		}
	}
	return &log
}

// uriChars are the characters an RFC 3986 URI may hold literally.
const uriChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/?#[]@!$&'()*+,;=%"

func checkURI(t testing.TB, where string, al ArtifactLocation, bases map[string]ArtifactLocation) {
	t.Helper()
	for i := 0; i < len(al.URI); i++ {
		if !strings.ContainsRune(uriChars, rune(al.URI[i])) {
			t.Errorf("%s: URI %q holds %q unescaped", where, al.URI, al.URI[i])
			return
		}
	}
	u, err := url.Parse(al.URI)
	if err != nil {
		t.Errorf("%s: URI %q: %v", where, al.URI, err)
		return
	}
	if al.URIBaseID == "" {
		if u.Scheme != "file" || !strings.HasPrefix(u.Path, "/") {
			t.Errorf("%s: URI %q has no uriBaseId, so it must be an absolute file URI", where, al.URI)
		}
		return
	}
	if u.IsAbs() || strings.HasPrefix(al.URI, "/") {
		t.Errorf("%s: URI %q with uriBaseId %s must be a relative reference", where, al.URI, al.URIBaseID)
	}
	if base, ok := bases[al.URIBaseID]; ok {
		b, err := url.Parse(base.URI)
		if err != nil || !b.IsAbs() || !strings.HasSuffix(base.URI, "/") {
			t.Errorf("originalUriBaseIds[%s] = %q: want an absolute URI ending in /", al.URIBaseID, base.URI)
		}
	} else if bases != nil {
		t.Errorf("%s: uriBaseId %s is not declared in originalUriBaseIds", where, al.URIBaseID)
	}
}
