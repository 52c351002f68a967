package monitor

import (
	"bufio"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The detectors on traffic of real backdoored classifiers generated with
// other triggers, targets, rates and a text modality (testdata/gen,
// written by internal/gen/monitor/gen.py): the trigger alert comes within
// 200 requests of the attack's first triggered request, the swapped
// model raises a swap alert, and ten windows of clean traffic raise
// nothing. The ground truth is read here, to score; never by a detector.

func loadGz(t *testing.T, path string) []*Record {
	t.Helper()
	recs, err := LoadLog(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// firstTriggered is the 1-based position of the first triggered request.
func firstTriggered(t *testing.T, path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var n int64
	for sc.Scan() {
		n++
		if strings.Contains(sc.Text(), `"triggered": true`) {
			return n
		}
	}
	t.Fatalf("%s has no triggered request", path)
	return 0
}

func TestGeneratedTraffic(t *testing.T) {
	cases, _ := filepath.Glob("testdata/gen/*")
	if len(cases) == 0 {
		t.Fatal("no generated cases in testdata/gen")
	}
	for _, dir := range cases {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			base := loadGz(t, filepath.Join(dir, "baseline.jsonl.gz"))
			clean := loadGz(t, filepath.Join(dir, "clean.jsonl.gz"))
			if a := run(t, base, clean, Config{}); len(a) > 0 {
				t.Errorf("%d alert(s) over %d clean requests, first %s at %d: %s", len(a), len(clean), a[0].Detector, a[0].Seq, a[0].Message)
			}
			attackPath := filepath.Join(dir, "attack.jsonl.gz")
			first := firstTriggered(t, attackPath)
			trig := byDetector(run(t, base, loadGz(t, attackPath), Config{}), "trigger")
			if len(trig) == 0 {
				t.Fatalf("no trigger alert (attack starts at request %d)", first)
			}
			if delay := trig[0].Seq - first; delay < 0 || delay > 200 {
				t.Errorf("trigger alert at request %d, %d after the first triggered request %d", trig[0].Seq, delay, first)
			} else {
				t.Logf("trigger alert %d requests after the attack began (label %s, %g flagged, p %.2g)", delay, trig[0].Key, trig[0].Value, *trig[0].P)
			}
			if strings.HasPrefix(filepath.Base(dir), "text") {
				return // its swap model answers with the same calibration; canaries catch that
			}
			swaps := 0
			for _, a := range run(t, base, loadGz(t, filepath.Join(dir, "swap.jsonl.gz")), Config{}) {
				if a.Kind == KindSwap {
					swaps++
				}
			}
			if swaps == 0 {
				t.Error("no swap alert on the swapped model's traffic")
			}
		})
	}
}
