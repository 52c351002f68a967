package safetensors_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/analyzer/safetensors"
	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

func TestSafetensors(t *testing.T) {
	good := testutil.SafetensorsModel(map[string]string{"format": "pt"},
		testutil.STensor{Name: "a.weight", Shape: []int64{2, 3}},
		testutil.STensor{Name: "a.bias", DType: "BF16", Shape: []int64{3}},
		testutil.STensor{Name: "empty", Shape: []int64{0, 4}},
		testutil.STensor{Name: "scalar", DType: "I64", Shape: []int64{}})
	evil := pkl.New(2).Global("posix", "system").Str("id").Tuple1().Reduce().Stop().Bytes()
	hdr := func(h string, data int) []byte { return testutil.Safetensors(h, make([]byte, data)) }
	lenPrefix := func(n uint64, rest string) []byte {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint64(b, n)
		return append(b, rest...)
	}
	scantest.Run(t, []scantest.Case{
		{Name: "Valid", File: "m.safetensors", Data: good, Verdict: report.Clean, Format: "safetensors"},
		{Name: "ValidUnderAnyName", File: "weights.bin", Data: good, Verdict: report.Clean, Format: "safetensors"},
		{Name: "HeaderLengthPastEnd", Data: lenPrefix(1<<20, `{"a":{}}`), Verdict: report.Invalid, InMsg: "past the end"},
		{Name: "HeaderLengthOverCap", Data: lenPrefix(200_000_000, `{"a":{}}`), Verdict: report.Invalid, InMsg: "cap"},
		{Name: "HeaderLengthHuge", Data: lenPrefix(1<<39, `{"a":{}}`), Verdict: report.Invalid},
		{Name: "NotJSON", Data: hdr(`{"a": nope}`, 0), Verdict: report.Invalid},
		{Name: "UnknownDType", Data: hdr(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}`, 16), Verdict: report.Invalid, InMsg: "unknown dtype"},
		{Name: "ShapeDisagreesWithSpan", Data: hdr(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}`, 8), Verdict: report.Invalid, InMsg: "needs 16 bytes"},
		{Name: "ShapeOverflow", Data: hdr(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, 8), Verdict: report.Invalid, InMsg: "overflows"},
		{Name: "NegativeDim", Data: hdr(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4), Verdict: report.Invalid},
		{Name: "OffsetsOutOfBounds", Data: hdr(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, 8), Verdict: report.Invalid, InMsg: "past the end"},
		{Name: "OffsetsHuge", Data: hdr(`{"a":{"dtype":"U8","shape":[16],"data_offsets":[18446744073709551600,18446744073709551616]}}`, 8), Verdict: report.Invalid},
		{Name: "OffsetsOverlap", Data: hdr(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12), Verdict: report.Invalid, InMsg: "overlap"},
		{Name: "OffsetsGap", Data: hdr(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, 12), Verdict: report.Invalid, InMsg: "gap"},
		{Name: "OffsetsNotFromZero", Data: hdr(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), Verdict: report.Invalid},
		{Name: "OffsetsReversed", Data: hdr(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, 8), Verdict: report.Invalid},
		{Name: "MetadataNotString", Data: hdr(`{"__metadata__":{"format":1},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1), Verdict: report.Invalid, InMsg: "not a string"},
		{Name: "DuplicateTensor", Data: hdr(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2), Verdict: report.Invalid, InMsg: "twice"},
		{Name: "MissingField", Data: hdr(`{"a":{"dtype":"U8","shape":[1]}}`, 1), Verdict: report.Invalid},
		{Name: "GarbageAfterJSON", Data: hdr(`{}xx`, 0), Verdict: report.Invalid},
		{Name: "Truncated", File: "m.safetensors", Data: good[:len(good)-3], Verdict: report.Invalid},
		{Name: "TruncatedInHeader", File: "m.safetensors", Data: good[:20], Verdict: report.Invalid},
		{Name: "TrailingPicklePolyglot", Data: append(bytes.Clone(good), evil...), Verdict: report.Malicious, Rules: []string{"safetensors-trailing-data", "pickle-process-exec"}},
		{Name: "TrailingJunk", Data: append(bytes.Clone(good), "junk"...), Verdict: report.Suspicious, Rules: []string{"safetensors-trailing-data"}},
		{Name: "UnrecognisedContentNamedSafetensors", File: "m.safetensors", Data: []byte("not a model at all"), Verdict: report.Invalid},
	})
}

func TestParseHeaderReportsParameters(t *testing.T) {
	f := testutil.SafetensorsModel(nil, testutil.STensor{Name: "w", Shape: []int64{3, 4}}, testutil.STensor{Name: "b", DType: "F16", Shape: []int64{4}})
	h, err := safetensors.ParseHeader(bytes.NewReader(f), int64(len(f)))
	if err != nil {
		t.Fatal(err)
	}
	if h.Params != 16 || len(h.Tensors) != 2 || h.Tensors[0].Name != "w" || h.DataEnd != int64(len(f)) {
		t.Fatalf("%+v", h)
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add(testutil.SafetensorsModel(map[string]string{"format": "pt"}, testutil.STensor{Name: "w", Shape: []int64{2, 2}}))
	f.Add(testutil.Safetensors(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Fuzz(func(t *testing.T, b []byte) {
		scantest.Fuzz(t, b, "m.safetensors")
		h, err := safetensors.ParseHeader(bytes.NewReader(b), int64(len(b)))
		if err == nil && (h.DataEnd > int64(len(b)) || h.DataEnd < h.DataStart) {
			t.Fatalf("accepted spans outside the file: %+v", h)
		}
	})
}

// zeros is a ReaderAt of n bytes: the 8-byte prefix, then zeros.
type zeros struct{ prefix []byte }

func (z zeros) ReadAt(p []byte, off int64) (int, error) {
	for i := range p {
		p[i] = 0
		if o := off + int64(i); o < int64(len(z.prefix)) {
			p[i] = z.prefix[o]
		}
	}
	return len(p), nil
}

// A header the reference loader would accept by length but that is too
// large to parse cheaply is inconclusive, and costs nothing.
func TestParseHeaderBoundsMemory(t *testing.T) {
	pre := make([]byte, 8)
	binary.LittleEndian.PutUint64(pre, 90_000_000)
	_, err := safetensors.ParseHeader(zeros{pre}, 1<<30)
	if err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("want a limit error, got %v", err)
	}
}
