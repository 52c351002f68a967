package pickle_test

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

func scanBytes(t testing.TB, name string, data []byte) report.Artifact {
	return scantest.Bytes(t, name, data)
}

func has(a report.Artifact, rule string) *report.Finding { return scantest.Has(a, rule) }

func dump(a report.Artifact) string { return scantest.Dump(a) }

func rules(a report.Artifact) []string {
	var r []string
	for _, f := range a.Findings {
		r = append(r, f.Rule)
	}
	return r
}

type attack struct {
	name    string
	data    []byte
	verdict report.Verdict
	rules   []string // findings that must be present
	inMsg   string   // text that must appear in some message
}

func check(t *testing.T, c attack) {
	t.Helper()
	a := scanBytes(t, "x.pkl", c.data)
	if a.Verdict != c.verdict {
		t.Errorf("%s: verdict %s, want %s%s", c.name, a.Verdict, c.verdict, dump(a))
	}
	for _, r := range c.rules {
		if has(a, r) == nil {
			t.Errorf("%s: missing finding %s; got %v%s", c.name, r, rules(a), dump(a))
		}
	}
	if c.inMsg != "" && !strings.Contains(dump(a), c.inMsg) {
		t.Errorf("%s: no message mentions %q%s", c.name, c.inMsg, dump(a))
	}
}

func TestPickle_Imports(t *testing.T) {
	for _, c := range []attack{
		{"Proto0GlobalReduce", pkl.New(0).Proto0Call("posix", "system", "id").Stop().Bytes(), report.Malicious, []string{"pickle-process-exec"}, `os.system("id")`},
		{"Proto2GlobalReduce", pkl.New(2).Global("nt", "system").Str("id").Tuple1().Reduce().Stop().Bytes(), report.Malicious, []string{"pickle-process-exec"}, "written nt.system"},
		{"StackGlobal", pkl.New(4).Call("subprocess", "check_output", "id").Stop().Bytes(), report.Malicious, []string{"pickle-process-exec"}, "subprocess.check_output"},
		{"BuiltinsEvalPy2Name", pkl.New(2).Global("__builtin__", "eval").Str("1").Tuple1().Reduce().Stop().Bytes(), report.Malicious, []string{"pickle-code-exec"}, "builtins.eval"},
		{"OperatorAlias", pkl.New(2).Global("_operator", "attrgetter").Str("system").Tuple1().Reduce().Stop().Bytes(), report.Malicious, []string{"pickle-attribute-gadget"}, ""},
		{"Python2CommandsModule", pkl.New(2).Global("commands", "Popen").Str("id").Tuple1().Reduce().Stop().Bytes(), report.Malicious, []string{"pickle-process-exec"}, ""},
		{"DottedNameReroot", pkl.New(4).Str("pathlib").Str("os.system").StackGlobal().Str("id").Tuple1().Reduce().Stop().Bytes(), report.Malicious, []string{"pickle-process-exec"}, "reaching os.system"},
		{"DunderTraversal", pkl.New(4).Str("collections").Str("OrderedDict.__init__.__globals__").StackGlobal().Stop().Bytes(), report.Malicious, []string{"pickle-attribute-traversal"}, "__init__"},
		{"RunpyGadget", pkl.New(2).Global("runpy", "_run_code").Str("x").Tuple1().Reduce().Stop().Bytes(), report.Malicious, []string{"pickle-code-exec"}, ""},
		{"TorchInternalGadget", pkl.New(2).Global("torch.utils.collect_env", "run").Str("id").Tuple1().Reduce().Stop().Bytes(), report.Malicious, []string{"pickle-code-exec"}, ""},
		{"FileWriteViaPathlibMethod", pkl.New(4).Str("pathlib").Str("Path.write_text").StackGlobal().Stop().Bytes(), report.Malicious, []string{"pickle-file-access"}, ""},
		{"Network", pkl.New(2).Global("urllib.request", "urlopen").Str("http://x").Tuple1().Reduce().Stop().Bytes(), report.Malicious, []string{"pickle-network"}, ""},
		{"UnknownModuleSuspicious", pkl.New(2).Global("mylib.models", "Net").EmptyTuple().NewObj().Stop().Bytes(), report.Suspicious, []string{"pickle-unknown-import"}, "mylib.models.Net"},
		{"MainModuleSuspicious", pkl.New(2).Global("__main__", "TinyNet").EmptyTuple().NewObj().Stop().Bytes(), report.Suspicious, []string{"pickle-main-module"}, ""},
	} {
		check(t, c)
	}
}

func TestPickle_StackGlobalOperands(t *testing.T) {
	for _, c := range []attack{
		{"FromMemo", pkl.New(4).Str("os").Put(0).Pop().Str("nothing").Pop().Get(0).Str("system").StackGlobal().Str("id").Tuple1().Reduce().Stop().Bytes(),
			report.Malicious, []string{"pickle-process-exec"}, ""},
		{"BehindDecoys", pkl.New(4).Str("os").Str("system").Str("torch").Str("FloatStorage").Pop().Pop().StackGlobal().Stop().Bytes(),
			report.Malicious, []string{"pickle-process-exec"}, ""},
		{"DupedOperand", pkl.New(4).Str("posix").Dup().Pop().Str("system").StackGlobal().Stop().Bytes(),
			report.Malicious, []string{"pickle-process-exec"}, ""},
		{"ComputedByStrLower", pkl.New(4).Str("builtins").Str("str.lower").StackGlobal().Str("POSIX").Tuple1().Reduce().Str("system").StackGlobal().Stop().Bytes(),
			report.Malicious, []string{"pickle-computed-import", "pickle-process-exec"}, "resolve to posix.system"},
		{"FromUnknownCall", pkl.New(4).Str("mylib").Str("name_of").StackGlobal().EmptyTuple().Reduce().Str("system").StackGlobal().Stop().Bytes(),
			report.Malicious, []string{"pickle-unresolved-import"}, "mylib.name_of()"},
		{"ConcatOfConstants", pkl.New(4).Str("_operator").Str("add").StackGlobal().Str("o").Str("s").Tuple2().Reduce().Str("system").StackGlobal().Stop().Bytes(),
			report.Malicious, []string{"pickle-computed-import", "pickle-process-exec"}, ""},
		{"NonStringOperandIsInvalid", pkl.New(4).Int(1).Str("system").StackGlobal().Stop().Bytes(),
			report.Invalid, []string{"malformed"}, "STACK_GLOBAL requires str"},
	} {
		check(t, c)
	}
}

func TestPickle_CallOpcodes(t *testing.T) {
	for _, c := range []attack{
		{"Inst", pkl.New(0).Mark().Text('S', "'id'").Inst("os", "system").Stop().Bytes(), report.Malicious, []string{"pickle-process-exec"}, `os.system("id")`},
		{"Obj", pkl.New(1).Mark().Global("os", "system").Str("id").Obj().Stop().Bytes(), report.Malicious, []string{"pickle-process-exec"}, ""},
		{"NewObj", pkl.New(2).Global("subprocess", "Popen").Str("id").Tuple1().NewObj().Stop().Bytes(), report.Malicious, []string{"pickle-process-exec"}, ""},
		{"NewObjEx", pkl.New(4).Str("subprocess").Str("Popen").StackGlobal().Str("id").Tuple1().EmptyDict().Raw(0x92).Stop().Bytes(), report.Malicious, []string{"pickle-process-exec"}, ""},
		{"DynamicCallOfCallResult", pkl.New(2).Global("collections", "OrderedDict").EmptyTuple().Reduce().EmptyTuple().Reduce().Stop().Bytes(),
			report.Malicious, []string{"pickle-dynamic-call"}, ""},
		{"BuildOnImportedClass", pkl.New(2).Global("collections", "OrderedDict").EmptyDict().Str("x").Int(1).SetItem().Build().Stop().Bytes(),
			report.Malicious, []string{"pickle-global-mutation"}, "BUILD sets state"},
		{"SetItemOnImport", pkl.New(2).Global("collections", "OrderedDict").Str("k").Int(1).SetItem().Stop().Bytes(),
			report.Malicious, []string{"pickle-global-mutation"}, "SETITEM"},
	} {
		check(t, c)
	}
}

func TestPickle_ExtensionRegistry(t *testing.T) {
	registered := pkl.New(2).Global("copyreg", "add_extension").Str("os").Str("system").Int(7).Tuple3().Reduce().Pop().
		Raw(0x82, 7).Str("id").Tuple1().Reduce().Stop().Bytes()
	check(t, attack{"Registered", registered, report.Malicious, []string{"pickle-attribute-gadget", "pickle-process-exec"}, ""})
	unregistered := pkl.New(2).Raw(0x82, 9).Str("id").Tuple1().Reduce().Stop().Bytes()
	check(t, attack{"Unregistered", unregistered, report.Malicious, []string{"pickle-unresolved-import"}, "EXT code 9"})
	check(t, attack{"ZeroCode", pkl.New(2).Raw(0x82, 0).Stop().Bytes(), report.Invalid, []string{"malformed"}, "code <= 0"})
}

func TestPickle_NestedPayloads(t *testing.T) {
	inner := pkl.New(2).Global("posix", "system").Str("id").Tuple1().Reduce().Stop().Bytes()
	benignInner := pkl.New(2).EmptyDict().Str("w").Int(1).SetItem().Stop().Bytes()

	c := attack{"PickleLoadsConstant", pkl.New(2).Global("pickle", "loads").BinBytes(inner).Tuple1().Reduce().Stop().Bytes(),
		report.Malicious, []string{"pickle-nested-loader", "pickle-process-exec", "pickle-nested-payload"}, ""}
	check(t, c)
	a := scanBytes(t, "x.pkl", c.data)
	if f := has(a, "pickle-process-exec"); f == nil || !strings.Contains(f.Location, "[pickle.loads@") {
		t.Errorf("nested finding location should name the loader call: %+v", f)
	}

	b64 := pkl.New(2).Global("pickle", "loads").Global("base64", "b64decode").Str(base64.StdEncoding.EncodeToString(inner)).Tuple1().Reduce().Tuple1().Reduce().Stop().Bytes()
	check(t, attack{"Base64Wrapped", b64, report.Malicious, []string{"pickle-process-exec"}, ""})

	hexed := pkl.New(4).Str("pickle").Str("loads").StackGlobal().Str("builtins").Str("bytes.fromhex").StackGlobal().Str(strings.ToUpper(hexString(inner))).Tuple1().Reduce().Tuple1().Reduce().Stop().Bytes()
	check(t, attack{"HexWrapped", hexed, report.Malicious, []string{"pickle-process-exec"}, ""})

	// Protocol 2 writes bytes as _codecs.encode(str, 'latin1').
	latin := pkl.New(2).Global("torch.storage", "_load_from_bytes").Global("_codecs", "encode").Str(string(fromBytes(inner))).Str("latin1").Tuple2().Reduce().Tuple1().Reduce().Stop().Bytes()
	check(t, attack{"LoadFromBytesMalicious", latin, report.Malicious, []string{"pickle-process-exec"}, ""})

	trusted := pkl.New(2).Global("torch.storage", "_load_from_bytes").BinBytes(benignInner).Tuple1().Reduce().Stop().Bytes()
	check(t, attack{"LoadFromBytesBenignIsClean", trusted, report.Clean, nil, ""})

	opaque := pkl.New(2).Global("torch.storage", "_load_from_bytes").Global("mylib", "payload").EmptyTuple().Reduce().Tuple1().Reduce().Stop().Bytes()
	check(t, attack{"LoadFromBytesOpaque", opaque, report.Malicious, []string{"pickle-nested-opaque"}, ""})
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// fromBytes maps bytes to the code points _codecs.encode(..., 'latin1')
// turns back into the same bytes.
func fromBytes(b []byte) []rune {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return r
}

func TestPickle_BrokenStreams(t *testing.T) {
	payload := pkl.New(2).Global("posix", "system").Str("id").Tuple1().Reduce()
	for _, c := range []attack{
		{"TruncatedAfterPayload", append([]byte{}, payload.Bytes()...), report.Malicious, []string{"pickle-process-exec", "truncated"}, ""},
		{"InvalidOpcodeAfterPayload", append(append([]byte{}, payload.Bytes()...), 0xff), report.Malicious, []string{"pickle-process-exec", "malformed"}, "invalid load key"},
		{"EmptyStackAtStop", pkl.New(2).Stop().Bytes(), report.Invalid, []string{"malformed"}, "underflow"},
		{"PopBelowMark", pkl.New(2).Int(1).Mark().Reduce().Stop().Bytes(), report.Invalid, []string{"malformed"}, "underflow"},
		{"MissingMemo", pkl.New(2).Get(3).Stop().Bytes(), report.Invalid, []string{"malformed"}, "memo value not found"},
		{"BadProtocol", []byte{0x80, 0x02, 0x80, 0x09, 'N', '.'}, report.Invalid, []string{"malformed"}, "unsupported pickle protocol"},
		{"NegativeBinstring", []byte{0x80, 0x02, 'T', 0xff, 0xff, 0xff, 0xff, '.'}, report.Invalid, []string{"malformed"}, "negative"},
		{"HugeLengthTruncated", []byte{0x80, 0x04, 0x8e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 'N'}, report.Invalid, []string{"truncated"}, ""},
		{"UnquotedString", []byte("Sfoo\n."), report.Invalid, nil, ""},
	} {
		check(t, c)
	}
}

func TestPickle_ResourceLimits(t *testing.T) {
	// LONG_BINPUT 2^31: CPython would try to allocate a 16 GiB memo.
	huge := pkl.New(2).None().Put(1 << 31).Stop().Bytes()
	check(t, attack{"HugeMemoIndex", huge, report.Inconclusive, []string{"limit-reached"}, "memo index"})

	marks := pkl.New(2)
	for i := 0; i < 70000; i++ {
		marks.Mark()
	}
	check(t, attack{"MarkBomb", marks.None().Stop().Bytes(), report.Inconclusive, []string{"limit-reached"}, "marks"})
}

func TestPickle_MultipleStreams(t *testing.T) {
	benign := pkl.New(2).EmptyDict().Stop().Bytes()
	evil := pkl.New(4).Call("os", "system", "id").Stop().Bytes()
	check(t, attack{"PayloadInSecondStream", append(append([]byte{}, benign...), evil...), report.Malicious, []string{"pickle-process-exec"}, ""})
	check(t, attack{"TextAfterStream", append(append([]byte{}, benign...), []byte("hello, world")...), report.Clean, []string{"pickle-trailing-data"}, ""})
}

func TestPickle_Frames(t *testing.T) {
	// A FRAME claiming 1 byte around a 2-byte opcode.
	b := pkl.New(4).Frame(1).Raw('K', 1, 'N').Pop().Stop().Bytes()
	check(t, attack{"FrameMismatch", b, report.Suspicious, []string{"pickle-frame-mismatch"}, ""})
	good := pkl.New(4).Frame(3).Raw('K', 1, '.').Bytes()
	check(t, attack{"FrameExact", good, report.Clean, nil, ""})
}

func TestPickle_CPythonFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/benign_*.pkl")
	if len(files) < 7 {
		t.Fatalf("fixtures missing: %v", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		a := scanBytes(t, filepath.Base(f), data)
		if a.Verdict != report.Clean || a.Format != "pickle" {
			t.Errorf("%s: %s %s%s", f, a.Format, a.Verdict, dump(a))
		}
	}
}

func TestPickle_EveryOpcodeBenign(t *testing.T) {
	b := pkl.New(5).Frame(1<<20).
		Mark().Text('I', "01").Text('I', "00").Text('I', "-12").Text('L', "123456789012345678901234567890L").Text('F', "1.5").Text('F', "nan").
		Text('S', `'a\x41\n\'b'`).Text('V', `\u00e9t\u00e9`).
		Raw('T', 2, 0, 0, 0, 'h', 'i').Raw('U', 1, 'x').Raw(0x8d, 1, 0, 0, 0, 0, 0, 0, 0, 'y').
		Raw(0x8e, 1, 0, 0, 0, 0, 0, 0, 0, 'z').Raw(0x96, 1, 0, 0, 0, 0, 0, 0, 0, 'w').Raw(0x98).
		Raw('G', 0, 0, 0, 0, 0, 0, 0xf0, 0x3f).Raw(0x8a, 2, 0xff, 0x7f).Raw(0x8b, 9, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9).
		Raw(0x88, 0x89).None().Int(300).Int(70000).Int(-5).
		Raw(0x8f).Mark().Int(1).Int(2).Raw(0x90).
		Mark().Str("fs").Raw(0x91).
		Text('p', "7").Text('g', "7").Pop().
		Memoize().Raw('h', 1).Pop().
		EmptyList().Int(1).Append().Mark().Int(2).Int(3).Appends().
		EmptyDict().Str("k").Int(1).SetItem().Mark().Str("k2").Int(2).Str("k3").Int(3).SetItems().
		Mark().Int(4).Raw('l').Mark().Int(5).Int(6).Raw('d').Pop().
		Mark().Str("a").Int(1).Raw('d').
		Int(1).Tuple1().Int(1).Int(2).Tuple2().Int(1).Int(2).Int(3).Tuple3().EmptyTuple().
		Mark().Int(9).Raw('1').
		Tuple().Stop().Bytes()
	binary.LittleEndian.PutUint64(b[3:], uint64(len(b)-11)) // the FRAME holds the rest
	check(t, attack{"AllOpcodes", b, report.Clean, nil, ""})
}

func TestPickle_FrameworkGlobalsClean(t *testing.T) {
	b := pkl.New(4).Mark()
	for _, g := range [][2]string{
		{"collections", "OrderedDict"}, {"torch._utils", "_rebuild_tensor_v2"}, {"torch", "FloatStorage"}, {"torch", "bfloat16"},
		{"argparse", "Namespace"}, {"pathlib", "PosixPath"}, {"numpy.core.multiarray", "_reconstruct"}, {"numpy", "dtype"},
		{"numpy._core.multiarray", "scalar"}, {"sklearn.pipeline", "Pipeline"}, {"datetime", "datetime"}, {"decimal", "Decimal"},
		{"pytorch_lightning.utilities.parsing", "AttributeDict"}, {"transformers.training_args", "TrainingArguments"},
		{"builtins", "set"}, {"copyreg", "_reconstructor"}, {"_codecs", "encode"}, {"torch.nn.modules.linear", "Linear"},
	} {
		b.Str(g[0]).Str(g[1]).StackGlobal()
	}
	check(t, attack{"FrameworkGlobals", b.Tuple().Stop().Bytes(), report.Clean, nil, ""})
}

func TestPickle_SniffRejectsText(t *testing.T) {
	for _, text := range []string{"hello world\n", "import os\nos.system('id')\n", "{\"a\": 1}", "1,2,3\n4,5,6\n", "config:\n  lr: 1\n", "S"} {
		a := scanBytes(t, "notes.txt", []byte(text))
		if a.Format != "other" || a.Verdict != report.Clean {
			t.Errorf("%q: %s %s%s", text, a.Format, a.Verdict, dump(a))
		}
	}
}

// TestPickle_RepeatedNestedPayloadsAreBounded: the same payload loaded
// thousands of times is scanned a bounded number of times, and the rest is
// reported rather than silently dropped.
func TestPickle_RepeatedNestedPayloadsAreBounded(t *testing.T) {
	inner := pkl.New(2).EmptyDict().Stop().Bytes()
	b := pkl.New(2).Global("torch.storage", "_load_from_bytes").Put(0).Pop().BinBytes(inner).Put(1).Pop()
	for i := 0; i < 5000; i++ {
		b.Get(0).Get(1).Tuple1().Reduce().Pop()
	}
	a := scanBytes(t, "x.pkl", b.None().Stop().Bytes())
	if a.Verdict != report.Inconclusive || has(a, "limit-reached") == nil {
		t.Fatalf("verdict %s%s", a.Verdict, dump(a))
	}
}

func TestPickle_LatentPayloads(t *testing.T) {
	inner := pkl.New(4).Call("os", "system", "id").Stop().Bytes()
	harmless := pkl.New(4).EmptyDict().Stop().Bytes()
	for _, c := range []attack{
		{"RawBytesConstant", pkl.New(4).EmptyDict().Str("blob").BinBytes(inner).SetItem().Stop().Bytes(), report.Suspicious, []string{"pickle-latent-payload"}, "os.system"},
		{"Base64StringConstant", pkl.New(4).EmptyDict().Str("blob").Str(base64.StdEncoding.EncodeToString(inner)).SetItem().Stop().Bytes(), report.Suspicious, []string{"pickle-latent-payload"}, "base64"},
		{"HarmlessEmbeddedPickle", pkl.New(4).EmptyDict().Str("blob").BinBytes(harmless).SetItem().Stop().Bytes(), report.Clean, nil, ""},
	} {
		check(t, c)
	}
	// base64 of every protocol and first opcode: "gAI(" .. "gAX".
	for proto := 2; proto <= 5; proto++ {
		for _, first := range []string{"mark", "global", "short-unicode", "frame"} {
			p := pkl.New(proto)
			switch first {
			case "mark":
				p.Mark().Str("id").Tuple().Global("os", "system").Str("x").Tuple1().Reduce().Pop().Pop()
			case "global":
				p.Global("os", "system").Str("id").Tuple1().Reduce()
			case "short-unicode":
				p.Str("os").Str("system").StackGlobal().Str("id").Tuple1().Reduce()
			case "frame":
				p.Frame(40).Global("os", "system").Str("id").Tuple1().Reduce()
			}
			enc := base64.StdEncoding.EncodeToString(p.Stop().Bytes())
			check(t, attack{fmt.Sprintf("Base64Proto%d_%s_%s", proto, first, enc[:3]), pkl.New(4).EmptyDict().Str("blob").Str(enc).SetItem().Stop().Bytes(), report.Suspicious, []string{"pickle-latent-payload"}, "base64"})
		}
	}
	for _, c := range []attack{
		{"Base64NotAPickle", pkl.New(4).EmptyDict().Str("blob").Str(base64.StdEncoding.EncodeToString([]byte("\x80\x02 is not an opcode at all"))).SetItem().Stop().Bytes(), report.Clean, nil, ""},
	} {
		check(t, c)
	}
}

// TestPickle_Wrappers checks getattr and functools.partial in the shapes
// picklers write (clean, or classified by what they reach) and in the
// shapes only attacks write (their deny rules).
func TestPickle_Wrappers(t *testing.T) {
	getattr := func(p *pkl.B) *pkl.B { return p.Global("__builtin__", "getattr") }
	for _, c := range []attack{
		// pickle's form for a builtin method: getattr(class, "name").
		{"BuiltinMethodOfAllowedHolder", getattr(pkl.New(2)).Global("torch._C", "_VariableFunctionsClass").Str("cosine_similarity").Tuple2().Reduce().Stop().Bytes(),
			report.Clean, nil, ""},
		// The dotted import it resolves to is classified like any other.
		{"GetattrOfModuleReachesDenied", getattr(pkl.New(2)).Global("torch.nn.modules.module", "torch").Str("load").Tuple2().Reduce().Stop().Bytes(),
			report.Malicious, []string{"pickle-nested-loader"}, "reached with getattr"},
		{"GetattrDunder", getattr(pkl.New(2)).Global("collections", "OrderedDict").Str("__init__").Tuple2().Reduce().Stop().Bytes(),
			report.Malicious, []string{"pickle-attribute-gadget"}, ""},
		{"GetattrComputedName", getattr(pkl.New(2)).Global("collections", "OrderedDict").Global("builtins", "str").Str("x").Tuple1().Reduce().Tuple2().Reduce().Stop().Bytes(),
			report.Malicious, []string{"pickle-attribute-gadget"}, ""},
		// A bound method of an object an allowed class built (Lazy
		// modules, OneCycleLR): a reference, clean.
		{"BoundMethodOfAllowedObject", getattr(pkl.New(2)).Global("collections", "OrderedDict").EmptyTuple().Reduce().Str("keys").Tuple2().Reduce().Stop().Bytes(),
			report.Clean, nil, ""},
		// ... but calling it while loading is a dynamic call.
		{"BoundMethodCalled", getattr(pkl.New(2)).Global("collections", "OrderedDict").EmptyTuple().Reduce().Str("keys").Tuple2().Reduce().EmptyTuple().Reduce().Stop().Bytes(),
			report.Malicious, []string{"pickle-dynamic-call"}, ""},
		// A bound method of an object an unknown class built.
		{"BoundMethodOfUnknownObject", getattr(pkl.New(2)).Global("mylib", "Thing").EmptyTuple().Reduce().Str("run").Tuple2().Reduce().Stop().Bytes(),
			report.Malicious, []string{"pickle-attribute-gadget"}, ""},
		// getattr itself stored as a value, besides a benign use.
		{"GetattrAlsoStored", getattr(pkl.New(2)).Put(0).Global("collections", "OrderedDict").EmptyTuple().Reduce().Str("keys").Tuple2().Reduce().Pop().
			EmptyList().Get(0).Append().Stop().Bytes(),
			report.Malicious, []string{"pickle-attribute-gadget"}, ""},
		// functools.partial of an allowed import: as safe as the import.
		{"PartialOfAllowed", pkl.New(2).Global("functools", "partial").Global("numpy", "power").Tuple1().Reduce().Stop().Bytes(),
			report.Clean, nil, ""},
		{"PartialOfDenied", pkl.New(2).Global("functools", "partial").Global("os", "system").Str("id").Tuple2().Reduce().Stop().Bytes(),
			report.Malicious, []string{"pickle-process-exec"}, ""},
		{"PartialOfUnknown", pkl.New(2).Global("functools", "partial").Global("mylib", "f").Tuple1().Reduce().Stop().Bytes(),
			report.Suspicious, []string{"pickle-unknown-import"}, ""},
		{"PartialCalled", pkl.New(2).Global("functools", "partial").Global("numpy", "power").Tuple1().Reduce().EmptyTuple().Reduce().Stop().Bytes(),
			report.Malicious, []string{"pickle-dynamic-call"}, ""},
		{"PartialOfCallResult", pkl.New(2).Global("functools", "partial").Global("collections", "OrderedDict").EmptyTuple().Reduce().Tuple1().Reduce().Stop().Bytes(),
			report.Malicious, []string{"pickle-attribute-gadget"}, ""},
		// The wrapper's memo reuse is counted: both uses benign.
		{"GetattrFromMemoTwice", getattr(pkl.New(2)).Put(0).Global("torch._C", "_VariableFunctionsClass").Put(1).Str("cosine_similarity").Tuple2().Reduce().Pop().
			Get(0).Get(1).Str("pairwise_distance").Tuple2().Reduce().Stop().Bytes(), report.Clean, nil, ""},
	} {
		check(t, c)
	}
}

// TestPickle_LegacyModuleClass models torch's legacy persistent_load of
// ('module', cls, file, source): the value is the class, so NEWOBJ calls
// an import, not a dynamic value.
func TestPickle_LegacyModuleClass(t *testing.T) {
	pid := func(p *pkl.B, mod, name string) *pkl.B {
		return p.Mark().Str("module").Global(mod, name).Str("/x.py").Str("class X: pass").Tuple().Raw('Q')
	}
	check(t, attack{"Allowed", pid(pkl.New(2), "torch.nn.modules.linear", "Linear").EmptyTuple().NewObj().Stop().Bytes(), report.Clean, nil, ""})
	check(t, attack{"Denied", pid(pkl.New(2), "os", "system").Str("id").Tuple1().Reduce().Stop().Bytes(), report.Malicious, []string{"pickle-process-exec"}, ""})
	check(t, attack{"StoragePidStillOpaque", pkl.New(2).Mark().Str("storage").Global("torch", "FloatStorage").Str("0").Str("cpu").Int(1).Tuple().Raw('Q').EmptyTuple().Reduce().Stop().Bytes(),
		report.Malicious, []string{"pickle-dynamic-call"}, ""})
}
