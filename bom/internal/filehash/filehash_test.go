package filehash

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

func TestHash_MatchesSHA256AndFeedsObservers(t *testing.T) {
	dir := t.TempDir()
	sizes := []int{0, 1, bufSize - 1, bufSize, 3*bufSize + 17}
	var jobs []Job
	var want []string
	var seen []*bytes.Buffer
	for i, n := range sizes {
		b := make([]byte, n)
		rand.Read(b)
		name := filepath.Join("sub", string(rune('a'+i)))
		os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		want = append(want, hex.EncodeToString(sum[:]))
		var obs bytes.Buffer
		seen = append(seen, &obs)
		jobs = append(jobs, Job{Path: name, Size: int64(n), Observer: &obs})
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, workers := range []int{1, 3} {
		for _, o := range seen {
			o.Reset()
		}
		got, err := Hash(context.Background(), root, jobs, workers)
		if err != nil {
			t.Fatal(err)
		}
		for i := range jobs {
			if got[i] != want[i] {
				t.Errorf("workers=%d file %d: %s, want %s", workers, i, got[i], want[i])
			}
			if seen[i].Len() != sizes[i] {
				t.Errorf("observer %d saw %d bytes, want %d (each byte once)", i, seen[i].Len(), sizes[i])
			}
		}
	}
	// A file that vanished is an error naming it; a link out of the root
	// is refused.
	os.Symlink("/etc/passwd", filepath.Join(dir, "out"))
	for _, bad := range []string{"missing", "out"} {
		if _, err := Hash(context.Background(), root, []Job{{Path: bad}}, 1); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
