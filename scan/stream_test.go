package scan_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/report"
	"github.com/aigis-dev/aigis/scan"
)

var (
	evilPickle  = pkl.New(2).Global("os", "system").Str("id").Tuple1().Reduce().Stop().Bytes()
	cleanPickle = pkl.New(2).EmptyDict().Stop().Bytes()
)

func put(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func link(t *testing.T, target, p string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.Symlink(target, p); err != nil {
		t.Skip("symlinks unsupported:", err)
	}
}

// hfCache lays out a Hugging Face cache entry: the snapshot's files are
// links into ../../blobs.
func hfCache(t *testing.T, weights []byte) string {
	root := filepath.Join(t.TempDir(), "models--org--name")
	put(t, filepath.Join(root, "blobs", "aaa"), weights)
	put(t, filepath.Join(root, "blobs", "bbb"), []byte(`{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}`))
	put(t, filepath.Join(root, "refs", "main"), []byte("0123abcd"))
	snap := filepath.Join(root, "snapshots", "0123abcd")
	link(t, "../../blobs/aaa", filepath.Join(snap, "pytorch_model.bin"))
	link(t, "../../blobs/bbb", filepath.Join(snap, "config.json"))
	return root
}

func byBase(rep *report.Report) map[string]report.Artifact {
	m := map[string]report.Artifact{}
	for _, a := range rep.Artifacts {
		m[filepath.Base(a.Path)] = a
	}
	return m
}

// A link's verdict is its target's when the target lies inside the root,
// and it is the same whether the root is named by an absolute or a
// relative path: a cache's pytorch_model.bin and its snapshot directory
// are as malicious as the blob. (Both used to be clean by absolute path,
// and every link an escape by relative path.)
func TestLinks_JudgedByTheirTarget(t *testing.T) {
	root := hfCache(t, testutil.TorchZip(t, "archive", evilPickle, 0, 0))
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	os.Chdir(filepath.Dir(root))
	for _, target := range []string{root, filepath.Base(root), "./" + filepath.Base(root) + "/"} {
		rep, err := scan.New(scan.Options{}).Scan(context.Background(), []string{target})
		if err != nil {
			t.Fatal(err)
		}
		arts := byBase(rep)
		bin := arts["pytorch_model.bin"]
		if bin.Verdict != report.Malicious || bin.Format != "pytorch-zip" || bin.Properties["link_resolves_to"] != "blobs/aaa" {
			t.Errorf("%s: the linked checkpoint is %s (%s) %v", target, bin.Verdict, bin.Format, bin.Findings)
		}
		if snap := arts["0123abcd"]; snap.Format != "hf-repo" || snap.Verdict != report.Malicious {
			t.Errorf("%s: the snapshot directory is %s %q", target, snap.Verdict, snap.Format)
		}
		if cfg := arts["config.json"]; cfg.Verdict != report.Clean {
			t.Errorf("%s: config.json link: %s %v", target, cfg.Verdict, cfg.Findings)
		}
		for _, a := range rep.Artifacts {
			for _, f := range a.Findings {
				if f.Rule == "symlink-escape" {
					t.Errorf("%s: %s reported as an escape", target, a.Path)
				}
			}
		}
	}
}

// A link named as the target is the user's choice and is followed.
func TestLinks_NamedTargetIsFollowed(t *testing.T) {
	root := hfCache(t, testutil.TorchZip(t, "archive", evilPickle, 0, 0))
	p := filepath.Join(root, "snapshots", "0123abcd", "pytorch_model.bin")
	rep, err := scan.New(scan.Options{}).Scan(context.Background(), []string{p})
	if err != nil || len(rep.Artifacts) != 1 {
		t.Fatal(err, rep)
	}
	if a := rep.Artifacts[0]; a.Path != p || a.Verdict != report.Malicious || a.Format != "pytorch-zip" {
		t.Errorf("%s %s %s %v", a.Path, a.Verdict, a.Format, a.Findings)
	}
}

func TestLinks_OutOfTheRootAreNotFollowed(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "id_rsa")
	put(t, outside, evilPickle)
	dir := t.TempDir()
	link(t, outside, filepath.Join(dir, "model.pkl"))
	link(t, "../../../../../../../../etc/passwd", filepath.Join(dir, "rel.bin"))
	link(t, "sub", filepath.Join(dir, "dirlink"))
	put(t, filepath.Join(dir, "sub", "x.txt"), []byte("x"))
	rep, err := scan.New(scan.Options{}).Scan(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	arts := byBase(rep)
	for _, n := range []string{"model.pkl", "rel.bin"} {
		if a := arts[n]; a.Format != "symlink" || a.Verdict != report.Suspicious || a.Findings[0].Rule != "symlink-escape" {
			t.Errorf("%s: %s %s %v", n, a.Format, a.Verdict, a.Findings)
		}
	}
	if a := arts["dirlink"]; a.Format != "symlink" || a.Verdict != report.Clean || a.Properties["link_resolves_to"] != "sub" {
		t.Errorf("dirlink: %+v", a)
	}
}

// The report comes in walk order, a repository's own artifact right after
// the files below it, whatever the number of workers.
func TestStream_WalkOrder(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a/b.txt", "a/b/c.pkl", "a/b/d.pkl", "a-z.pkl", "z.pkl", "repo/config.json", "repo/model.pkl", "repo/sub/x.pkl", "repo2.pkl"} {
		body := cleanPickle
		if strings.HasSuffix(p, ".json") {
			body = []byte(`{"architectures": ["X"]}`)
		}
		if strings.HasSuffix(p, ".txt") {
			body = []byte("x")
		}
		put(t, filepath.Join(dir, p), body)
	}
	put(t, filepath.Join(dir, "repo", "sub", "x.pkl"), evilPickle)
	want := []string{"a/b/c.pkl", "a/b/d.pkl", "a/b.txt", "a-z.pkl", "repo/config.json", "repo/model.pkl", "repo/sub/x.pkl", "repo", "repo2.pkl", "z.pkl"}
	for _, workers := range []int{1, 2, 8} {
		var got []string
		var repo report.Artifact
		err := scan.New(scan.Options{Workers: workers}).Stream(context.Background(), []string{dir}, func(a *report.Artifact) error {
			rel, _ := filepath.Rel(dir, a.Path)
			got = append(got, filepath.ToSlash(rel))
			if rel == "repo" {
				repo = *a
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("workers %d: order\n%v\nwant\n%v", workers, got, want)
		}
		if repo.Verdict != report.Malicious || repo.Properties["files"] != "3" {
			t.Errorf("workers %d: repo summary %s %v", workers, repo.Verdict, repo.Properties)
		}
	}
}

// An error from emit stops the scan and is returned.
func TestStream_EmitErrorStops(t *testing.T) {
	dir := t.TempDir()
	for i := range 50 {
		put(t, filepath.Join(dir, fmt.Sprintf("f%02d.pkl", i)), cleanPickle)
	}
	n := 0
	err := scan.New(scan.Options{}).Stream(context.Background(), []string{dir}, func(a *report.Artifact) error {
		if n++; n == 3 {
			return fmt.Errorf("disk full")
		}
		return nil
	})
	if err == nil || err.Error() != "disk full" || n != 3 {
		t.Fatalf("err %v after %d artifacts", err, n)
	}
}

// Memory stays flat as the number of files grows: the engine holds at most
// a window of artifacts, not the report.
func TestStream_MemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 40,000 files")
	}
	heapAfter := func(files int) uint64 {
		dir := t.TempDir()
		for i := range files {
			put(t, filepath.Join(dir, fmt.Sprintf("d%03d", i/500), fmt.Sprintf("f%05d.txt", i)), []byte("x"))
		}
		var peak uint64
		n := 0
		err := scan.New(scan.Options{}).Stream(context.Background(), []string{dir}, func(a *report.Artifact) error {
			if n++; n%2000 == 0 {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
			return nil
		})
		if err != nil || n != files {
			t.Fatalf("%v, %d artifacts", err, n)
		}
		return peak
	}
	small, large := heapAfter(2000), heapAfter(20000)
	t.Logf("peak heap %d KB at 2,000 files, %d KB at 20,000", small>>10, large>>10)
	// 18,000 more artifacts held until the end would be at least 3 MB.
	if large > small+2<<20 {
		t.Errorf("heap grows with the file count: %d KB at 2,000 files, %d KB at 20,000", small>>10, large>>10)
	}
}
