package rules

import (
	"bytes"
	"go/format"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	p := Pickle()
	cases := []struct {
		module, name string
		want         Action
		rule         string
	}{
		{"posix", "system", Deny, "pickle-process-exec"},
		{"nt", "system", Deny, "pickle-process-exec"},
		{"commands", "Popen", Deny, "pickle-process-exec"},
		{"__builtin__", "eval", Deny, "pickle-code-exec"},
		{"builtins", "exec", Deny, "pickle-code-exec"},
		{"_operator", "attrgetter", Deny, "pickle-attribute-gadget"},
		{"pathlib", "os.system", Deny, "pickle-process-exec"}, // dotted re-rooting
		{"torch", "hub.load", Deny, "pickle-code-exec"},       // module extended by the name
		{"transformers", "AutoModel.from_pretrained", Deny, "pickle-nested-loader"},
		{"torch.storage", "_load_from_bytes", "", ""}, // handled by the VM as a loader
		{"runpy", "_run_code", Deny, "pickle-code-exec"},
		{"pathlib", "PosixPath.write_text", Deny, "pickle-file-access"},
		{"torch._utils", "_rebuild_tensor_v2", Allow, "allow-torch-tensors"},
		{"torch", "FloatStorage", Allow, "allow-torch-tensors"},
		{"collections", "OrderedDict", Allow, "allow-stdlib-values"},
		{"_codecs", "encode", Allow, "allow-stdlib-values"},
		{"__builtin__", "xrange", Allow, "allow-builtin-types"},
		{"argparse", "Namespace", Allow, "allow-stdlib-values"},
		{"numpy._core.multiarray", "_reconstruct", Allow, "allow-numpy"},
		{"sklearn.ensemble._forest", "RandomForestClassifier", Allow, "allow-sklearn"},
		{"sklearn.ensemble._hist_gradient_boosting.binning", "_BinMapper", Allow, "allow-sklearn-classes"},
		{"sklearn.feature_selection._univariate_selection", "f_classif", Allow, "allow-sklearn-functions"},
		{"sklearn.tree._export", "export_graphviz", "", ""}, // writes a file
		{"numpy.core._multiarray_umath", "log1p", Allow, "allow-numpy-ufuncs"},
		{"numpy", "memmap", "", ""}, // opens a file
		{"numpy", "load", Deny, "pickle-nested-loader"},
		{"torch.nn.functional", "relu", Allow, "allow-torch-functional"},
		{"torch._C", "_VariableFunctionsClass.cosine_similarity", Allow, "allow-torch-functional"},
		{"torch.utils.hooks", "RemovableHandle", Allow, "allow-torch-module-state"},
		// Names a torch module imports are not its classes.
		{"torch.ao.quantization.observer", "partial", "", ""},
		{"torch.ao.quantization.fx.graph_module", "GraphModule", "", ""},
		{"torch.fx.graph_module", "GraphModule", Deny, "pickle-code-exec"},
		{"sklearn.utils", "some_function", "", ""}, // functions are not classes
		{"__main__", "TinyNet", "", ""},
		{"myproj.code.model", "Net", "", ""}, // a user module named code is not stdlib code
		{"torch.nn.modules.linear", "Linear", Allow, "allow-torch-module-classes"},
		{"torch.nn.modules.linear", "Linear.forward", "", ""}, // allow rules match exactly
		{"torch.nn.modules.linear", "Linear.__init__.__globals__", "", ""},
	}
	for _, c := range cases {
		d := p.Classify(c.module, c.name)
		rule := ""
		if d.Rule != nil {
			rule = d.Rule.ID
		}
		if d.Action != c.want || rule != c.rule {
			t.Errorf("Classify(%s, %s) = %q %q, want %q %q", c.module, c.name, d.Action, rule, c.want, c.rule)
		}
	}
	if d := p.Classify("torch.nn.modules.linear", "Linear.__init__.__globals__"); d.Traversal != "__init__" {
		t.Errorf("dunder traversal not flagged: %+v", d)
	}
}

func TestParsePickleRejectsBadRules(t *testing.T) {
	for _, doc := range []string{
		"rules: [{id: a, action: allow, globals: ['os:system']}]",                     // no reason
		"rules: [{id: a, action: maybe, reason: r, globals: ['os:system']}]",          // bad action
		"rules: [{id: a, action: deny, reason: r, globals: ['os']}]",                  // no qualname
		"rules: [{id: a, action: deny, reason: r, globals: ['o*s:x']}]",               // module glob
		"rules: [{id: a, action: deny, reason: r}, {id: a, action: deny, reason: r}]", // duplicate
	} {
		if _, err := ParsePickle([]byte(doc)); err == nil {
			t.Errorf("accepted %s", doc)
		}
	}
}

func TestCatalogueIsCurrent(t *testing.T) {
	want, err := os.ReadFile("../../docs/rules.md")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := WriteCatalogue(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatal("docs/rules.md is stale: run go generate ./internal/rules")
	}
}

func TestExtensionHints(t *testing.T) {
	h := Extensions()
	if v, ok := h.Hint(".PT"); !ok || v.String() != "invalid" {
		t.Errorf(".PT: %v %v", v, ok)
	}
	if v, ok := h.Hint(".mlmodel"); !ok || v.String() != "unsupported" {
		t.Errorf(".mlmodel: %v %v", v, ok)
	}
	if _, ok := h.Hint(".txt"); ok {
		t.Error(".txt has a hint")
	}
}

// TestPublishedGadgetsAreDenied pins every gadget that denylist-only
// scanners were bypassed with (REFERENCE.md §2), as the pickler writes it.
func TestPublishedGadgetsAreDenied(t *testing.T) {
	for _, g := range [][2]string{
		{"runpy", "_run_code"}, {"timeit", "timeit"}, {"cProfile", "run"}, {"code", "InteractiveInterpreter"},
		{"pkgutil", "resolve_name"}, {"pydoc", "locate"}, {"importlib", "import_module"},
		{"_operator", "methodcaller"}, {"_operator", "attrgetter"}, {"_functools", "partial"}, {"functools", "partial"},
		{"pip", "main"}, {"pip._internal.cli.main", "main"}, {"ensurepip", "_run_pip"}, {"venv", "create"}, {"pty", "spawn"},
		{"ctypes", "CDLL"}, {"_ctypes", "dlopen"}, {"_posixsubprocess", "fork_exec"}, {"asyncio.subprocess", "create_subprocess_exec"},
		{"asyncio.unix_events", "_UnixSubprocessTransport"}, {"uuid", "_get_command_stdout"}, {"_osx_support", "_read_output"},
		{"idlelib.pyshell", "ModifiedInterpreter"}, {"lib2to3.pgen2.grammar", "Grammar.loads"}, {"numpy.testing._private.utils", "runstring"},
		{"numpy.f2py.crackfortran", "myeval"}, {"torch.jit.unsupported_tensor_ops", "execWrapper"},
		{"torch._dynamo.guards", "GuardBuilder.get"}, {"torch.utils.collect_env", "run"}, {"torch._inductor.codecache", "compile_file"},
		{"builtins", "open"}, {"_io", "FileIO"}, {"io", "open"}, {"logging", "FileHandler"}, {"shutil", "rmtree"},
		{"webbrowser", "open"}, {"socket", "create_connection"}, {"ssl", "get_server_certificate"}, {"urllib.request", "urlopen"},
		{"atexit", "register"}, {"weakref", "finalize"}, {"copyreg", "add_extension"}, {"posix", "system"}, {"nt", "system"},
		{"subprocess", "run"}, {"os", "execvp"}, {"builtins", "getattr"}, {"builtins", "__import__"}, {"sys", "modules"},
		{"pickle", "loads"}, {"_pickle", "loads"}, {"marshal", "loads"}, {"dill", "loads"}, {"torch", "load"},
		{"torch.serialization", "load"}, {"numpy", "load"}, {"joblib", "load"}, {"types", "FunctionType"}, {"types", "CodeType"},
		{"multiprocessing.util", "spawnv_passfds"}, {"signal", "signal"}, {"threading", "Thread"}, {"http.client", "HTTPConnection"},
	} {
		if d := Pickle().Classify(g[0], g[1]); d.Action != Deny {
			t.Errorf("%s.%s is %q, want deny", g[0], g[1], d.Action)
		}
	}
}

func TestLongDottedNameIsTraversal(t *testing.T) {
	name := strings.Repeat("a.", 5000) + "system"
	start := time.Now()
	d := Pickle().Classify("os", name)
	if time.Since(start) > time.Second {
		t.Fatalf("classification took %v", time.Since(start))
	}
	if d.Action != Deny && d.Traversal == "" {
		t.Fatalf("%+v", d)
	}
	if d := Pickle().Classify("mylib", name); d.Traversal == "" {
		t.Fatalf("long attribute path not flagged: %+v", d)
	}
}

// TestIDsAreCurrent keeps ids.go, the constants code names findings by,
// in step with the rule data.
func TestIDsAreCurrent(t *testing.T) {
	var b bytes.Buffer
	if err := WriteIDs(&b); err != nil {
		t.Fatal(err)
	}
	src, err := format.Source(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("ids.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(src, want) {
		t.Fatal("ids.go is stale: run go generate ./internal/rules")
	}
	for _, id := range AllIDs() {
		f := New(id, "", "")
		if f.Reason == "" || f.Rule != string(id) {
			t.Errorf("%s: %+v", id, f)
		}
	}
}

func TestFormatRuleSets(t *testing.T) {
	names := SetNames()
	for _, want := range []string{"jinja", "python", "keras", "onnx", "tensorflow", "hfrepo", "safetensors", "gguf", "weights", "engine", "verify", "deps", "sign"} {
		if !slices.Contains(names, want) {
			t.Errorf("rule set %s missing: %v", want, names)
		}
	}
	for _, doc := range []string{
		"findings: {a: {verdict: malicious}}",           // no title
		"title: t\nfindings: {a: {verdict: malicious}}", // no reason
		"title: t\nlists: {l: {values: [x]}}",           // list without reason
	} {
		if _, err := ParseSet([]byte(doc)); err == nil {
			t.Errorf("accepted %q", doc)
		}
	}
	if !Format("onnx").List("standard_domains").Has("com.microsoft") || !Format("hfrepo").List("hydra_allowed").HasPrefix("nemo.collections.asr.X") {
		t.Error("list lookups")
	}
}

func TestPickleJSONIsCurrent(t *testing.T) {
	want, err := PickleJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, pickleJSON) {
		t.Fatal("rules/pickle.json is stale: run go generate ./internal/rules")
	}
	// The policy the binary loads is the one the YAML describes.
	libs, err := LibrariesJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(libs, librariesJSON) {
		t.Fatal("rules/pickle_libraries.json is stale: run go generate ./internal/rules")
	}
	fromYAML, err := ParsePickle(pickleYAML, librariesYAML)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromYAML.Rules, Pickle().Rules) || !reflect.DeepEqual(fromYAML.AllRules(), Pickle().AllRules()) ||
		!reflect.DeepEqual(fromYAML.exactAllow, Pickle().exactAllow) || !reflect.DeepEqual(fromYAML.libraries().exactAllow, Pickle().libraries().exactAllow) {
		t.Fatal("the JSON policy differs from the YAML one")
	}
}
