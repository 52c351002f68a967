package cli

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/report"
)

func writeModel(t *testing.T, dir, name string, edit func(i int, b []byte)) string {
	var ts []testutil.STensor
	for i := 0; i < 12; i++ {
		b := testutil.GaussF32(4096, uint64(i+1))
		if edit != nil {
			edit(i, b)
		}
		ts = append(ts, testutil.STensor{Name: "layer" + string(rune('a'+i)), Shape: []int64{4096}, Data: b})
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, testutil.SafetensorsModel(nil, ts...), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDiffAndBase(t *testing.T) {
	dir := t.TempDir()
	base := writeModel(t, dir, "base.safetensors", nil)
	same := writeModel(t, dir, "same.safetensors", nil)
	edited := writeModel(t, dir, "edited.safetensors", func(i int, b []byte) {
		if i == 5 {
			binary.LittleEndian.PutUint32(b[400:], math.Float32bits(9))
		}
	})
	if r := runCLI(t, nil, "diff", base, same); r.code != ExitOK {
		t.Errorf("identical models: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := runCLI(t, nil, "diff", "-o", "json", base, edited)
	if r.code != ExitFindings || !strings.Contains(r.stdout, "weights-diff-targeted") || !strings.Contains(r.stdout, "layerf") {
		t.Errorf("targeted edit: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, nil, "diff", base, filepath.Join(dir, "missing")); r.code != ExitError {
		t.Errorf("missing model: exit %d", r.code)
	}
	r = runCLI(t, nil, "scan", "-o", "json", "--base", base, edited)
	rep, err := report.Decode([]byte(r.stdout))
	if err != nil || r.code != ExitFindings || len(rep.Artifacts) != 1 || rep.Artifacts[0].Properties["diff.tensors_changed"] != "1" {
		t.Errorf("scan --base: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
}

func TestScanWeightsFlag(t *testing.T) {
	dir := t.TempDir()
	p := writeModel(t, dir, "m.safetensors", func(i int, b []byte) {
		if i == 2 {
			binary.LittleEndian.PutUint32(b[8:], 0x7fc00000) // NaN
		}
	})
	if r := runCLI(t, nil, "scan", p); r.code != ExitOK {
		t.Errorf("header-only scan: exit %d\n%s", r.code, r.stdout)
	}
	if r := runCLI(t, nil, "scan", "--weights", p); r.code != ExitFindings || !strings.Contains(r.stdout, "weights-nan-inf") {
		t.Errorf("--weights: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, map[string]string{"AIGIS_SCAN_WEIGHTS": "true"}, "scan", p); r.code != ExitFindings {
		t.Errorf("AIGIS_SCAN_WEIGHTS: exit %d", r.code)
	}
}

// scan --base compares every file whose tensors the engine can list, and
// leaves the rest (configs, the repository's own artifact) alone.
func TestScanBase_Directory(t *testing.T) {
	dir := t.TempDir()
	base := writeModel(t, dir, "base.safetensors", nil)
	repo := filepath.Join(dir, "repo")
	os.Mkdir(repo, 0o755)
	writeModel(t, repo, "model.safetensors", nil)
	write(t, filepath.Join(repo, "config.json"), []byte(`{"model_type": "bert"}`), 0o644)
	write(t, filepath.Join(repo, "notes.pkl"), pkl.New(2).EmptyDict().Stop().Bytes(), 0o644)
	r := runCLI(t, nil, "scan", "-o", "json", "--base", base, repo)
	rep, err := report.Decode([]byte(r.stdout))
	if err != nil || r.code != ExitOK {
		t.Fatalf("exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	compared := 0
	for _, a := range rep.Artifacts {
		if a.Properties["diff.base"] != "" {
			compared++
			if filepath.Base(a.Path) != "model.safetensors" || a.Properties["diff.tensors_changed"] != "0" {
				t.Errorf("%s compared: %v", a.Path, a.Properties)
			}
		}
	}
	if compared != 1 {
		t.Errorf("%d files compared:\n%s", compared, r.stdout)
	}
}

// Two unrelated models are not "clean": nothing was compared. A changed
// architecture is reported too.
func TestDiff_UnrelatedAndArchitecture(t *testing.T) {
	dir := t.TempDir()
	base := writeModel(t, dir, "base.safetensors", nil)
	other := filepath.Join(dir, "other.safetensors")
	os.WriteFile(other, testutil.SafetensorsModel(nil, testutil.STensor{Name: "encoder.w", Shape: []int64{4096}, Data: testutil.GaussF32(4096, 9)}), 0o644)
	r := runCLI(t, nil, "diff", "-o", "json", base, other)
	if r.code != ExitFindings || !strings.Contains(r.stdout, "weights-diff-unrelated") {
		t.Errorf("unrelated models: exit %d\n%s", r.code, r.stdout)
	}
	var ts []testutil.STensor
	for i := 0; i < 12; i++ {
		ts = append(ts, testutil.STensor{Name: "layer" + string(rune('a'+i)), Shape: []int64{4096}, Data: testutil.GaussF32(4096, uint64(i+1))})
	}
	ts = append(ts, testutil.STensor{Name: "classifier", Shape: []int64{16}, Data: testutil.GaussF32(16, 99)})
	head := filepath.Join(dir, "head.safetensors")
	os.WriteFile(head, testutil.SafetensorsModel(nil, ts...), 0o644)
	r = runCLI(t, nil, "diff", "-o", "json", base, head)
	if r.code != ExitOK || !strings.Contains(r.stdout, "weights-diff-architecture") || strings.Contains(r.stdout, "weights-diff-unrelated") {
		t.Errorf("a new head: exit %d\n%s", r.code, r.stdout)
	}
}
