package pickle_test

import (
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

// wrapper writes what joblib's NumpyPickler writes for one array: a
// NumpyArrayWrapper built with NEWOBJ, its state dict, BUILD, then the
// alignment pad and raw array bytes outside the opcode stream.
func wrapper(p *pkl.B, descr string, elsize int, shape []int, aligned bool, data []byte) *pkl.B {
	p.Global("joblib.numpy_pickle", "NumpyArrayWrapper").EmptyTuple().NewObj().EmptyDict().Mark().
		Str("subclass").Global("numpy", "ndarray").
		Str("shape").Mark()
	for _, d := range shape {
		p.Int(d)
	}
	p.Tuple().Str("order").Str("C").
		Str("dtype").Global("numpy", "dtype").Str(descr).Raw(0x89, 0x88).Tuple3().Reduce().
		Mark().Int(3).Str("<").None().None().None().Int(elsize).Int(-1).Int(0).Tuple().Build().
		Str("allow_mmap").Raw(0x88)
	if aligned {
		p.Str("numpy_array_alignment_bytes").Int(16)
	}
	p.SetItems().Build()
	if aligned {
		p.Raw(3, 0xff, 0xff, 0xff)
	}
	return p.Raw(data...)
}

func TestJoblib(t *testing.T) {
	// Array bytes that would be fatal opcodes if not skipped: 0xff is not
	// an opcode, and the payload after the array must still be found.
	raw := make([]byte, 6*8)
	for i := range raw {
		raw[i] = 0xff
	}
	evilTail := func(p *pkl.B) *pkl.B { return p.Pop().Call("os", "system", "id").Stop() }
	benign := wrapper(pkl.New(4), "f8", -1, []int{2, 3}, true, raw).Stop().Bytes()
	unaligned := wrapper(pkl.New(4), "f8", -1, []int{2, 3}, false, raw).Stop().Bytes()
	payloadAfterArray := evilTail(wrapper(pkl.New(4), "f8", -1, []int{2, 3}, true, raw)).Bytes()
	unicode := wrapper(pkl.New(4), "U2", 8, []int{6}, true, raw).Stop().Bytes()
	inner := pkl.New(2).Global("posix", "system").Str("id").Tuple1().Reduce().Stop().Bytes()
	objectArray := wrapper(pkl.New(4), "O8", -1, []int{1}, false, nil).Raw(inner...).Stop().Bytes()
	shortData := wrapper(pkl.New(4), "f8", -1, []int{1000}, true, raw).Bytes()
	scantest.Run(t, []scantest.Case{
		{Name: "AlignedFloatArray", Data: benign, Verdict: report.Clean, Format: "joblib"},
		{Name: "OldUnalignedArray", Data: unaligned, Verdict: report.Clean, Format: "joblib"},
		{Name: "PayloadAfterArrayBytes", Data: payloadAfterArray, Verdict: report.Malicious, Rules: []string{"pickle-process-exec"}},
		{Name: "FlexibleDtypeUsesElsize", Data: unicode, Verdict: report.Clean},
		{Name: "ObjectArrayNestedPickle", Data: objectArray, Verdict: report.Malicious, Rules: []string{"pickle-process-exec"}},
		{Name: "ArrayDataTruncated", Data: shortData, Verdict: report.Invalid, Rules: []string{"truncated"}},
	})
}
