package registry

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/aigis-dev/aigis/internal/registry/store"
)

// conformanceModule is the OCI distribution-spec conformance suite, a
// tool dependency in go.mod.
const conformanceModule = "github.com/opencontainers/distribution-spec/conformance"

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// TestOCIConformance runs the distribution-spec conformance suite (pull,
// push, content discovery, content management, referrers, sha512) against
// a registry whose namespace approves on push, and requires every test to
// pass.
func TestOCIConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the OCI conformance suite")
	}
	tr := newTestRegistry(t, Options{Modes: map[string]GateMode{"conformance": GateNone}})
	tr.addUser(t, "conformance", "s3cret-conformance", store.Role{Namespace: "conformance", Role: RoleAdmin})

	bin := filepath.Join(t.TempDir(), "conformance")
	build := exec.Command(goTool(), "build", "-o", bin, conformanceModule)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the conformance suite: %v\n%s", err, out)
	}
	results := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Dir = results
	cmd.Env = append(os.Environ(),
		"OCI_REGISTRY="+tr.Host, "OCI_TLS=disabled",
		"OCI_REPO1=conformance/repo1", "OCI_REPO2=conformance/repo2",
		"OCI_USERNAME=conformance", "OCI_PASSWORD=s3cret-conformance",
		"OCI_RESULTS_DIR="+results, "OCI_VERSION=1.1", "OCI_LOG=error",
		"OCI_API_BLOBS_UPLOAD_CANCEL=true", "OCI_API_MANIFESTS_TAG_PARAM=true",
		"OCI_API_BLOBS_DIGEST_HEADER=true", "OCI_API_MANIFESTS_DIGEST_HEADER=true",
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	data, err := os.ReadFile(filepath.Join(results, "results.yaml"))
	if err != nil {
		t.Fatalf("no results (%v): %v\n%s", runErr, err, out.String())
	}
	failed := conformanceFailures(t, data)
	t.Logf("conformance summary:\n%s", summaryLines(out.String()))
	if len(failed) > 0 || runErr != nil {
		t.Errorf("conformance failures (%v):\n  %s\n%s", runErr, strings.Join(failed, "\n  "), out.String())
	}
}

// conformanceFailures walks results.yaml for leaves whose status is not
// Pass, Skip or Disabled.
func conformanceFailures(t *testing.T, data []byte) []string {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("results.yaml: %v", err)
	}
	var failed []string
	var walk func(v any)
	walk = func(v any) {
		switch n := v.(type) {
		case map[string]any:
			if name, ok := n["name"].(string); ok {
				if st, ok := n["status"].(string); ok {
					kids, _ := n["children"].([]any)
					if len(kids) == 0 && st != "Pass" && st != "Skip" && st != "Disabled" {
						failed = append(failed, name+": "+st)
					}
				}
			}
			for _, c := range n {
				walk(c)
			}
		case []any:
			for _, c := range n {
				walk(c)
			}
		}
	}
	walk(doc)
	return failed
}

// summaryLines is the suite's own summary: the result, the counts and
// the per-feature table.
func summaryLines(s string) string {
	if i := strings.Index(s, "OCI Conformance Result"); i >= 0 {
		return s[i:]
	}
	return s
}
