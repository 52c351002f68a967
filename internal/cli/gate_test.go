package cli

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/report"
)

// TestMain lets a test run the CLI in a child process (as another user,
// with another working directory): AIGIS_TEST_MAIN=1 makes the test
// binary behave as aigis.
func TestMain(m *testing.M) {
	if os.Getenv("AIGIS_TEST_MAIN") == "1" {
		os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	code := m.Run()
	if exeDir != "" {
		os.RemoveAll(exeDir)
	}
	os.Exit(code)
}

var (
	exeOnce sync.Once
	exeDir  string
)

// publicExe is a copy of the test binary that another user may run: the
// go tool keeps test binaries in a private directory.
func publicExe(t *testing.T) string {
	exeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "aigis-exe")
		if err != nil {
			return
		}
		b, err := os.ReadFile(os.Args[0])
		if err == nil && os.WriteFile(filepath.Join(dir, "aigis"), b, 0o755) == nil && os.Chmod(dir, 0o755) == nil {
			exeDir = dir
		}
	})
	if exeDir == "" {
		t.Fatal("cannot copy the test binary")
	}
	return filepath.Join(exeDir, "aigis")
}

// runChild runs aigis in a child process, as uid when uid >= 0.
func runChild(t *testing.T, uid int, dir string, env []string, args ...string) result {
	t.Helper()
	exe := os.Args[0]
	if uid >= 0 {
		exe = publicExe(t)
	}
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"AIGIS_TEST_MAIN=1", "PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	if uid >= 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running aigis: %v", err)
	}
	return result{code, out.String(), errb.String()}
}

var (
	maliciousPickle = pkl.New(2).Global("os", "system").Str("id").Tuple1().Reduce().Stop().Bytes()
	cleanPickle     = pkl.New(2).EmptyDict().Stop().Bytes()
)

// nestedTooDeep is a clean pickle inside more gzip layers than the
// default --max-depth analyses.
func nestedTooDeep(t *testing.T) []byte {
	b := cleanPickle
	for range 12 {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		b = buf.Bytes()
	}
	return b
}

func write(t *testing.T, p string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// worldTemp is a temporary directory another user can enter.
func worldTemp(t *testing.T) string {
	dir := t.TempDir()
	for d := dir; d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	return dir
}

// The acceptance case of the gate: --fail-on high over a tree with a file
// nested too deep, a file that cannot be read and a malicious file exits
// 1; without the malicious file it still exits 1, and exits 0 only with
// --allow-incomplete. The unreadable file is real: the scan runs as an
// unprivileged user (root reads everything).
func TestGate_IncompleteFailsWhateverFailOn(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux credentials")
	}
	dir := worldTemp(t)
	write(t, filepath.Join(dir, "deep.pkl.gz"), nestedTooDeep(t), 0o644)
	write(t, filepath.Join(dir, "secret.pt"), cleanPickle, 0o000)
	write(t, filepath.Join(dir, "model.pkl"), maliciousPickle, 0o644)
	uid := -1
	if os.Geteuid() == 0 {
		uid = 65534 // nobody
	}
	scan := func(args ...string) result {
		return runChild(t, uid, dir, nil, append([]string{"scan", "-o", "json"}, append(args, dir)...)...)
	}
	r := scan("--fail-on", "high")
	if r.code != ExitFindings {
		t.Fatalf("malicious + incomplete, --fail-on high: exit %d\n%s", r.code, r.stderr)
	}
	rep, err := report.Decode([]byte(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]report.Verdict{"deep.pkl.gz": report.Inconclusive, "secret.pt": report.Inconclusive, "model.pkl": report.Malicious}
	for _, a := range rep.Artifacts {
		if v, ok := want[filepath.Base(a.Path)]; ok {
			if a.Verdict != v {
				t.Errorf("%s: %s, want %s: %+v", a.Path, a.Verdict, v, a.Findings)
			}
			delete(want, filepath.Base(a.Path))
		}
	}
	if len(want) > 0 {
		t.Fatalf("missing artifacts %v", want)
	}
	if r := scan("--fail-on", "high", "--allow-incomplete"); r.code != ExitFindings {
		t.Errorf("--allow-incomplete must not let the malicious file pass: exit %d", r.code)
	}
	os.Remove(filepath.Join(dir, "model.pkl"))
	for _, failOn := range []string{"high", "critical", "none"} {
		if r := scan("--fail-on", failOn); r.code != ExitFindings {
			t.Errorf("incomplete files, --fail-on %s: exit %d, want 1", failOn, r.code)
		}
	}
	if r := scan("--fail-on", "high", "--allow-incomplete"); r.code != ExitOK {
		t.Errorf("incomplete files with --allow-incomplete: exit %d, want 0\n%s", r.code, r.stderr)
	}
	// The same tree named as an unreadable target is a usage error.
	if r := runChild(t, uid, dir, nil, "scan", filepath.Join(dir, "secret.pt")); uid >= 0 && r.code != ExitError {
		t.Errorf("unreadable target: exit %d, want 2 (%s)", r.code, r.stderr)
	}
}

// deps: a part of the tree that cannot be read hides manifests, so it
// fails the gate whatever --fail-on says (it was medium, and passed
// --fail-on high).
func TestGate_DepsUnreadablePartFails(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux credentials")
	}
	dir := worldTemp(t)
	write(t, filepath.Join(dir, "requirements.txt"), []byte("numpy==1.26.4\n"), 0o644)
	write(t, filepath.Join(dir, "private", "requirements.txt"), []byte("deepseeek==0.1\n"), 0o644)
	os.Chmod(filepath.Join(dir, "private"), 0o000)
	t.Cleanup(func() { os.Chmod(filepath.Join(dir, "private"), 0o755) })
	uid := -1
	if os.Geteuid() == 0 {
		uid = 65534
	}
	if r := runChild(t, uid, dir, nil, "deps", "--skip-vulns", "--fail-on", "high", "-o", "json", dir); r.code != ExitFindings || !strings.Contains(r.stdout, "deps-unreadable") {
		t.Errorf("unreadable part of a deps tree, --fail-on high: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runChild(t, uid, dir, nil, "deps", "--skip-vulns", "--fail-on", "high", "--allow-incomplete", dir); r.code != ExitOK {
		t.Errorf("with --allow-incomplete: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestGate_FailOnMustBeAValue(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "model.pkl"), maliciousPickle, 0o644)
	for _, args := range [][]string{
		{"scan", "--fail-on=", dir},
		{"scan", "--fail-on", " ", dir},
		{"scan", "--fail-on", "severe", dir},
		{"deps", "--skip-vulns", "--fail-on=", dir},
		{"diff", "--fail-on=", filepath.Join(dir, "model.pkl"), filepath.Join(dir, "model.pkl")},
		{"bom", "--scan", "--fail-on=", dir},
	} {
		if r := runCLI(t, nil, args...); r.code != ExitError || !strings.Contains(r.stderr, "--fail-on") {
			t.Errorf("%v: exit %d %q", args, r.code, r.stderr)
		}
	}
	// An empty variable is unset, not "none": the default still holds.
	if r := runCLI(t, map[string]string{"AIGIS_FAIL_ON": ""}, "scan", dir); r.code != ExitFindings {
		t.Errorf("AIGIS_FAIL_ON='': exit %d", r.code)
	}
}

// Every verb: a target that cannot be read is exit 2, never a report.
func TestGate_UnreadableTargetExits2(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	for _, args := range [][]string{
		{"scan", missing}, {"deps", "--skip-vulns", missing}, {"bom", missing}, {"diff", missing, missing},
		{"digest", missing}, {"verify", "--public-key", missing, missing}, {"sign", "--private-key", missing, missing},
	} {
		if r := runCLI(t, nil, args...); r.code != ExitError || r.stdout != "" {
			t.Errorf("%v: exit %d, stdout %q", args, r.code, r.stdout)
		}
	}
}

func TestDuplicateTargetsScannedOnce(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "sub", "model.pkl"), cleanPickle, 0o644)
	r := runCLI(t, nil, "scan", "-o", "json", dir, dir+"/", filepath.Join(dir, "sub"), filepath.Join(dir, "sub", "model.pkl"))
	rep, err := report.Decode([]byte(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Artifacts) != 1 {
		t.Fatalf("want one artifact, got %d: %s", len(rep.Artifacts), r.stdout)
	}
}

func TestMaxExpandedTakesUnits(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "model.pkl"), cleanPickle, 0o644)
	for _, v := range []string{"16GiB", "512MiB", "10GB", "1.5G", "1048576"} {
		if r := runCLI(t, nil, "scan", "--max-expanded", v, dir); r.code != ExitOK {
			t.Errorf("--max-expanded %s: exit %d %s", v, r.code, r.stderr)
		}
	}
	if r := runCLI(t, nil, "scan", "--max-expanded", "lots", dir); r.code != ExitError {
		t.Errorf("--max-expanded lots: exit %d", r.code)
	}
}

// Go's parse errors name Go functions; users see what was wrong instead.
func TestNoGoNamesInMessages(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"scan", "--workers", "many", dir},
		{"scan", "--timeout", "soon", dir},
		{"scan", "--weights=maybe", dir},
	} {
		r := runCLI(t, nil, args...)
		if r.code != ExitError || strings.Contains(r.stderr, "strconv") || strings.Contains(r.stderr, "time:") || strings.Contains(r.stderr, "Parse") {
			t.Errorf("%v: exit %d %q", args, r.code, r.stderr)
		}
	}
	r := runCLI(t, map[string]string{"AIGIS_WORKERS": "many"}, "scan", dir)
	if r.code != ExitError || strings.Contains(r.stderr, "strconv") {
		t.Errorf("AIGIS_WORKERS=many: exit %d %q", r.code, r.stderr)
	}
	// A bundle of the wrong shape is described by its JSON fields.
	_, pub := keyPair(t)
	write(t, filepath.Join(dir, "m.bin"), []byte("weights"), 0o644)
	write(t, filepath.Join(dir, "m.bin.sig"), []byte(`{"mediaType": 5}`), 0o644)
	r = runCLI(t, nil, "verify", "--public-key", pub, filepath.Join(dir, "m.bin"))
	if r.code != ExitFindings || strings.Contains(r.stdout, "Go ") || !strings.Contains(r.stdout, "field mediaType holds a JSON number where a string belongs") {
		t.Errorf("malformed bundle: exit %d %q", r.code, r.stdout)
	}
}

func TestVersion(t *testing.T) {
	r := runCLI(t, nil, "version", "-o", "json")
	if r.code != ExitOK || !strings.Contains(r.stdout, `"goVersion": "go`) {
		t.Errorf("version: %d %s", r.code, r.stdout)
	}
	if r := runCLI(t, nil, "--version"); r.code != ExitOK || !strings.Contains(r.stdout, runtime.Version()) {
		t.Errorf("--version: %d %q", r.code, r.stdout)
	}
}
