package scan_test

import (
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

// A benign pickle for torch.load with a malicious zip appended for
// zipfile-based loaders: both readings must be analysed.
func TestPolyglotPickleZip(t *testing.T) {
	head := pkl.New(2).EmptyDict().Stop().Bytes()
	tail := testutil.Zip(t, testutil.ZipEntry{Name: "a/data.pkl", Data: pkl.New(4).Call("os", "system", "id").Stop().Bytes()})
	a := scantest.Bytes(t, "model.pt", append(head, tail...))
	if a.Verdict != report.Malicious || scantest.Has(a, "polyglot") == nil || scantest.Has(a, "pickle-process-exec") == nil {
		t.Fatalf("polyglot not analysed both ways%s", scantest.Dump(a))
	}
	if a.Format != "pickle" {
		t.Errorf("format should stay what the head says: %s", a.Format)
	}
}

func TestPlainZipIsNotAPolyglot(t *testing.T) {
	a := scantest.Bytes(t, "a.zip", testutil.Zip(t, testutil.ZipEntry{Name: "x.txt", Data: []byte("hi")}))
	if scantest.Has(a, "polyglot") != nil || a.Verdict != report.Clean {
		t.Fatalf("%s", scantest.Dump(a))
	}
}
