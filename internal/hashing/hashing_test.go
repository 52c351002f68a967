package hashing

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// Published test vectors for "abc" (FIPS 180-2, RFC 7693, the BLAKE3 spec's
// reference implementation).
func TestAlgorithm_KnownAnswers(t *testing.T) {
	for _, tc := range []struct {
		alg  Algorithm
		want string
	}{
		{SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{BLAKE2b, "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"},
		{BLAKE3, "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"},
	} {
		got, err := Sum(tc.alg, bytes.NewReader([]byte("abc")))
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != tc.want {
			t.Errorf("%s(abc) = %x, want %s", tc.alg, got, tc.want)
		}
		if len(got) != tc.alg.Size() {
			t.Errorf("%s: Size() = %d, digest has %d bytes", tc.alg, tc.alg.Size(), len(got))
		}
	}
}

func TestParseAlgorithm(t *testing.T) {
	for in, want := range map[string]Algorithm{"sha256": SHA256, "blake2b": BLAKE2b, "blake2": BLAKE2b, "blake3": BLAKE3} {
		if got, err := ParseAlgorithm(in); err != nil || got != want {
			t.Errorf("ParseAlgorithm(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "md5", "SHA256", "sha512"} {
		if _, err := ParseAlgorithm(bad); err == nil {
			t.Errorf("ParseAlgorithm(%q) accepted", bad)
		}
	}
	if Algorithm("blake2").Valid() {
		t.Error("the alias is not itself an OMS identifier")
	}
}

// Every digest the engine computes equals the one-shot digest of the same
// bytes, whatever the range, the buffer size and the number of workers.
func TestHash_MatchesOneShotDigest(t *testing.T) {
	dir := t.TempDir()
	data := randomBytes(t, 3<<20+12345)
	p := writeFile(t, dir, "blob", data)
	ranges := []struct{ off, n int64 }{{0, 0}, {0, 1}, {0, int64(len(data))}, {1 << 20, 1 << 20}, {int64(len(data)) - 7, 7}, {999, 3 << 20}}
	for _, alg := range Algorithms() {
		for _, bufSize := range []int{1, 4096, DefaultBufferSize, 8 << 20} {
			var jobs []Job
			var want [][]byte
			for _, r := range ranges {
				jobs = append(jobs, Job{Path: p, Offset: r.off, Length: r.n})
				w, _ := Sum(alg, bytes.NewReader(data[r.off:r.off+r.n]))
				want = append(want, w)
			}
			jobs = append(jobs, Job{Path: p, Whole: true, Length: 1})
			w, _ := Sum(alg, bytes.NewReader(data))
			want = append(want, w)
			if bufSize == 1 {
				jobs, want = jobs[:2], want[:2] // a byte at a time is slow; two jobs prove the point
			}
			res, err := Hash(context.Background(), jobs, Options{Algorithm: alg, BufferSize: bufSize, Workers: 3})
			if err != nil {
				t.Fatalf("%s/%d: %v", alg, bufSize, err)
			}
			for i := range jobs {
				if !bytes.Equal(res[i].Digest, want[i]) {
					t.Errorf("%s buf=%d job %d (%+v): digest %x, want %x", alg, bufSize, i, jobs[i], res[i].Digest, want[i])
				}
				wantSize := jobs[i].Length
				if jobs[i].Whole {
					wantSize = int64(len(data))
				}
				if res[i].Size != wantSize {
					t.Errorf("%s job %d: size %d, want %d", alg, i, res[i].Size, wantSize)
				}
			}
		}
	}
}

// Results come back in job order although jobs run longest first.
func TestHash_ResultsFollowJobOrder(t *testing.T) {
	dir := t.TempDir()
	var jobs []Job
	var want []string
	for i := 0; i < 40; i++ {
		data := bytes.Repeat([]byte{byte(i)}, (i*7919)%5000)
		jobs = append(jobs, Job{Path: writeFile(t, dir, fmt.Sprint(i), data), Length: int64(len(data))})
		d, _ := Sum(SHA256, bytes.NewReader(data))
		want = append(want, hex.EncodeToString(d))
	}
	res, err := Hash(context.Background(), jobs, Options{Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	for i := range jobs {
		if got := hex.EncodeToString(res[i].Digest); got != want[i] {
			t.Fatalf("job %d: got %s want %s", i, got, want[i])
		}
	}
}

func TestHash_TruncatedRangeIsAnError(t *testing.T) {
	p := writeFile(t, t.TempDir(), "short", []byte("0123456789"))
	_, err := Hash(context.Background(), []Job{{Path: p, Whole: true}, {Path: p, Offset: 5, Length: 6}}, Options{})
	var je *JobError
	if !errors.Is(err, ErrShortRead) || !errors.As(err, &je) || je.Index != 1 || je.Path != p {
		t.Fatalf("want ErrShortRead for job 1, got %v", err)
	}
}

func TestHash_MissingFileIsAnError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "absent")
	if _, err := Hash(context.Background(), []Job{{Path: p, Whole: true}}, Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("want ErrNotExist, got %v", err)
	}
}

func TestHash_OpenPolicyIsTheCallers(t *testing.T) {
	p := writeFile(t, t.TempDir(), "f", []byte("x"))
	deny := errors.New("denied by policy")
	_, err := Hash(context.Background(), []Job{{Path: p, Whole: true}}, Options{Open: func(string) (*os.File, error) { return nil, deny }})
	if !errors.Is(err, deny) {
		t.Fatalf("want the opener's error, got %v", err)
	}
}

func TestHash_CancelledContextStops(t *testing.T) {
	p := writeFile(t, t.TempDir(), "f", randomBytes(t, 1<<20))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Hash(ctx, []Job{{Path: p, Whole: true}, {Path: p, Whole: true}}, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func TestHash_ProgressCountsEveryByte(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a", randomBytes(t, 1<<20+3))
	b := writeFile(t, dir, "b", randomBytes(t, 77))
	var total atomic.Int64
	_, err := Hash(context.Background(), []Job{{Path: a, Whole: true}, {Path: b, Offset: 7, Length: 70}}, Options{BufferSize: 4096, Progress: func(n int64) { total.Add(n) }})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := total.Load(), int64(1<<20+3+70); got != want {
		t.Fatalf("progress reported %d bytes, want %d", got, want)
	}
}

func TestHash_RejectsBadJobsAndAlgorithms(t *testing.T) {
	if _, err := Hash(context.Background(), []Job{{Path: "x", Offset: -1}}, Options{}); err == nil {
		t.Error("negative offset accepted")
	}
	if _, err := Hash(context.Background(), nil, Options{Algorithm: "md5"}); err == nil {
		t.Error("unknown algorithm accepted")
	}
	if res, err := Hash(context.Background(), nil, Options{}); err != nil || len(res) != 0 {
		t.Errorf("no jobs: %v %v", res, err)
	}
}

func TestHash_ContinueOnErrorReportsEachJob(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good", []byte("abc"))
	jobs := []Job{{Path: filepath.Join(dir, "gone"), Whole: true}, {Path: good, Whole: true}, {Path: good, Offset: 2, Length: 5}}
	res, err := Hash(context.Background(), jobs, Options{ContinueOnError: true})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Sum(SHA256, bytes.NewReader([]byte("abc")))
	if !errors.Is(res[0].Err, os.ErrNotExist) || res[1].Err != nil || !bytes.Equal(res[1].Digest, want) || !errors.Is(res[2].Err, ErrShortRead) {
		t.Fatalf("results %+v", res)
	}
}

// Observe sees every byte of every whole-file job once, in order, from the
// read that hashes it: each file is opened once and the process reads no
// more bytes than the jobs cover. Range jobs are not observed.
func TestHash_ObserveSeesEachByteOfWholeFilesOnce(t *testing.T) {
	dir := t.TempDir()
	sizes := []int{0, 1, 4095, 4096, 3*4096 + 17, 1<<20 + 5}
	var jobs []Job
	var data [][]byte
	total := int64(0)
	for i, n := range sizes {
		b := randomBytes(t, n)
		data = append(data, b)
		jobs = append(jobs, Job{Path: writeFile(t, dir, fmt.Sprint(i), b), Length: int64(n), Whole: true})
		total += int64(n)
	}
	// A range of the last file: hashed, not observed.
	jobs = append(jobs, Job{Path: jobs[len(sizes)-1].Path, Offset: 3, Length: 100})
	total += 100
	var opens atomic.Int64
	open := func(p string) (*os.File, error) { opens.Add(1); return os.Open(p) }
	for _, workers := range []int{1, 3} {
		// Each job's buffer is written by the one goroutine hashing it and
		// read after Hash returns.
		seen := make([]bytes.Buffer, len(jobs))
		opens.Store(0)
		before := rchar()
		res, err := Hash(context.Background(), jobs, Options{BufferSize: 4096, Workers: workers, Open: open,
			Observe: func(job int, p []byte) { seen[job].Write(p) }})
		after := rchar()
		if err != nil {
			t.Fatal(err)
		}
		for i := range sizes {
			if !bytes.Equal(seen[i].Bytes(), data[i]) {
				t.Errorf("workers=%d job %d: observed %d bytes, want the file's %d", workers, i, seen[i].Len(), sizes[i])
			}
			if want, _ := Sum(SHA256, bytes.NewReader(data[i])); !bytes.Equal(res[i].Digest, want) {
				t.Errorf("workers=%d job %d: wrong digest", workers, i)
			}
		}
		if seen[len(sizes)].Len() != 0 {
			t.Errorf("a range job was observed (%d bytes)", seen[len(sizes)].Len())
		}
		if opens.Load() != int64(len(jobs)) {
			t.Errorf("workers=%d: %d opens for %d jobs", workers, opens.Load(), len(jobs))
		}
		// /proc/self/io (Linux): the bytes read while hashing are the
		// bytes hashed, not twice as many (a little slack for the read of
		// /proc/self/io itself).
		if before >= 0 && after >= 0 {
			if read := after - before; read < total || read > total+4096 {
				t.Errorf("workers=%d: read %d bytes for %d bytes of jobs", workers, read, total)
			}
		}
	}
}

// rchar is what this process has read so far, from /proc/self/io (-1
// where that is not available).
func rchar() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}

// Moved from bom/internal/filehash, the BOM's stop-gap hasher, with the
// BOM's use of this package: files opened through an os.Root, every byte
// observed once by a per-job observer (the BOM's row counters). A file
// that vanished is an error; a link out of the root is refused.
func TestHash_RootOpenerFeedsObservers(t *testing.T) {
	const bufSize = DefaultBufferSize
	dir := t.TempDir()
	sizes := []int{0, 1, bufSize - 1, bufSize, 3*bufSize + 17}
	var jobs []Job
	var want []string
	var seen []*bytes.Buffer
	for i, n := range sizes {
		b := randomBytes(t, n)
		name := filepath.Join("sub", string(rune('a'+i)))
		os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
		writeFile(t, dir, name, b)
		sum, _ := Sum(SHA256, bytes.NewReader(b))
		want = append(want, hex.EncodeToString(sum))
		seen = append(seen, &bytes.Buffer{})
		jobs = append(jobs, Job{Path: name, Length: int64(n), Whole: true})
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	observe := func(i int, p []byte) { seen[i].Write(p) }
	for _, workers := range []int{1, 3} {
		for _, o := range seen {
			o.Reset()
		}
		got, err := Hash(context.Background(), jobs, Options{Workers: workers, Open: root.Open, Observe: observe})
		if err != nil {
			t.Fatal(err)
		}
		for i := range jobs {
			if hex.EncodeToString(got[i].Digest) != want[i] {
				t.Errorf("workers=%d file %d: %x, want %s", workers, i, got[i].Digest, want[i])
			}
			if seen[i].Len() != sizes[i] {
				t.Errorf("observer %d saw %d bytes, want %d (each byte once)", i, seen[i].Len(), sizes[i])
			}
		}
	}
	os.Symlink("/etc/passwd", filepath.Join(dir, "out"))
	for _, bad := range []string{"missing", "out"} {
		if _, err := Hash(context.Background(), []Job{{Path: bad, Whole: true}}, Options{Workers: 1, Open: root.Open}); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
