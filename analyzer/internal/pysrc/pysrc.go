// Package pysrc statically analyses Python source shipped with models
// (Hugging Face remote code): it tokenises the file, tracks imports and
// aliases, and reports calls to code-execution, process, network and
// destructive functions, encoded payloads and obfuscated names, knowing
// whether each runs on import (or model construction) or only when a
// function is called.
//
// It never imports, compiles or runs the code. Rule data is
// rules/formats/python.yaml.
package pysrc

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/ulikunitz/xz"

	"github.com/aigis-dev/aigis/analyzer/internal/pystr"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// MaxSize is the largest source file analysed (model code is a few
// hundred KB; tokens cost about 32 bytes each).
const MaxSize = 1 << 20

// maxDecoded bounds what an encoded literal may decode or decompress to.
const maxDecoded = 16 << 20

// Issue is one finding at a line.
type Issue struct {
	Rule rules.ID
	Line int
	Msg  string
}

// Finding converts an issue to a report finding for file name.
func (i Issue) Finding(file string) report.Finding {
	return rules.New(i.Rule, fmt.Sprintf("%s:%d", file, i.Line), i.Msg)
}

// Result is what Analyze learns about one file.
type Result struct {
	Issues []Issue
	// RelImports are the relative imports (".configuration_x", "..utils").
	RelImports []string
}

// Analyze analyses src. loaded says whether the file is imported when the
// model loads; if not, nothing in it runs on load.
func Analyze(src string, loaded bool) *Result {
	return analyze(src, Options{Loaded: loaded}, 0)
}

// Options say how a file's code is reached.
type Options struct {
	// Loaded: the file is imported when the model loads.
	Loaded bool
	// LoadTime names functions that run on load besides the methods every
	// loader calls (load_time_functions): those a pickle in the same
	// archive calls, for example.
	LoadTime []string
	// TorchScript: the file is the code/ of a torch.jit archive. What runs
	// when torch.jit.load rebuilds a module is __setstate__ (and the
	// __init__ of the classes it constructs); ops.<ns> and
	// torch.classes.<ns> outside PyTorch's own namespaces need a native
	// library; torch.from_file reads and writes host files.
	TorchScript bool
}

// AnalyzeOpts analyses src as o describes.
func AnalyzeOpts(src string, o Options) *Result {
	return analyze(src, o, 0)
}

type analysis struct {
	rs       *rules.Set
	opts     Options
	loaded   bool
	loadTime map[string]bool
	depth    int
	res      *Result
	seen     map[string]bool
	alias    map[string]string
}

func analyze(src string, o Options, depth int) *Result {
	a := &analysis{rs: rules.Format("python"), opts: o, loaded: o.Loaded, depth: depth, res: &Result{}, seen: map[string]bool{}, alias: map[string]string{}, loadTime: map[string]bool{}}
	for _, n := range o.LoadTime {
		a.loadTime[n] = true
	}
	if len(src) > MaxSize {
		a.add(rules.PythonTooLarge, 1, fmt.Sprintf("%d bytes exceed the %d-byte budget", len(src), MaxSize))
		return a.res
	}
	lines, err := lex(src)
	if err != nil {
		a.add(rules.PythonUnparsable, err.line, err.msg)
	}
	type block struct {
		indent int
		def    bool
		name   string
	}
	var stack []block
	for _, l := range lines {
		for len(stack) > 0 && l.indent <= stack[len(stack)-1].indent {
			stack = stack[:len(stack)-1]
		}
		inFunc, onLoad := false, true
		for _, b := range stack {
			if b.def {
				inFunc = true
				if !a.rs.List("load_time_functions").Has(b.name) && !a.loadTime[b.name] {
					onLoad = false
				}
			}
		}
		a.line(l.toks, onLoad || !inFunc)
		t := l.toks
		if len(t) > 1 && t[0].k == tName && t[0].s == "async" {
			t = t[1:]
		}
		if len(t) > 1 && t[0].k == tName && (t[0].s == "def" || t[0].s == "class") && t[1].k == tName {
			stack = append(stack, block{indent: l.indent, def: t[0].s == "def", name: t[1].s})
		}
	}
	return a.res
}

func (a *analysis) add(rule rules.ID, line int, msg string) {
	key := string(rule) + "\x00" + msg
	if a.seen[key] {
		return
	}
	a.seen[key] = true
	a.res.Issues = append(a.res.Issues, Issue{Rule: rule, Line: line, Msg: msg})
}

var builtinSinks = map[string]bool{"exec": true, "eval": true, "compile": true, "__import__": true, "execfile": true}

// line analyses one logical line; onLoad says whether it runs when the
// module is imported or the model constructed.
func (a *analysis) line(t []token, onLoad bool) {
	if len(t) == 0 {
		return
	}
	if t[0].k == tName && (t[0].s == "import" || t[0].s == "from") {
		a.imports(t)
		return
	}
	var chrs strings.Builder
	var lits []string
	for i := 0; i < len(t); i++ {
		tk := t[i]
		prevDot := i > 0 && t[i-1].k == tOp && t[i-1].s == "."
		prevDef := i > 0 && t[i-1].k == tName && (t[i-1].s == "def" || t[i-1].s == "class")
		switch tk.k {
		case tString:
			lits = append(lits, tk.s)
			a.literal(tk, t, i)
		case tName:
			if prevDot || prevDef {
				continue
			}
			if tk.s == "chr" && i+3 < len(t) && t[i+1].s == "(" && t[i+2].k == tNumber && t[i+3].s == ")" {
				if v, err := strconv.ParseInt(t[i+2].s, 0, 32); err == nil && v > 0 && v < 0x110000 {
					chrs.WriteRune(rune(v))
				}
				continue
			}
			// A keyword argument named like a sink is not a call.
			if i+1 < len(t) && t[i+1].k == tOp && t[i+1].s == "=" && i > 0 && (t[i-1].s == "(" || t[i-1].s == ",") {
				continue
			}
			path, j := a.dotted(t, i)
			a.reference(path, t, j, tk.line, onLoad)
			i = j - 1
		}
	}
	a.fold(lits, chrs.String(), t[0].line)
	if s := intText(t); s != "" {
		a.obfuscated(s, t[0].line, "character codes")
	}
	if lineMentions(t, "rot13", "rot_13") {
		for _, l := range lits {
			a.obfuscated(rot13(l), t[0].line, "rot13 text")
		}
	}
}

// intText decodes the longest run of 8 or more comma-separated integer
// literals in the printable range (a list of character codes), or "".
func intText(t []token) string {
	var best, cur strings.Builder
	flush := func() {
		if cur.Len() > best.Len() {
			best.Reset()
			best.WriteString(cur.String())
		}
		cur.Reset()
	}
	for i := 0; i < len(t); i++ {
		if t[i].k == tNumber {
			if v, err := strconv.ParseInt(t[i].s, 0, 32); err == nil && (v >= 32 && v < 127 || v == 9 || v == 10) {
				cur.WriteByte(byte(v))
				if i+1 < len(t) && t[i+1].s == "," {
					i++
					continue
				}
			}
		}
		flush()
	}
	flush()
	if best.Len() < 8 {
		return ""
	}
	return best.String()
}

func lineMentions(t []token, words ...string) bool {
	for _, tk := range t {
		for _, w := range words {
			if strings.Contains(strings.ToLower(tk.s), w) {
				return true
			}
		}
	}
	return false
}

func rot13(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = 'a' + (c-'a'+13)%26
		case c >= 'A' && c <= 'Z':
			b[i] = 'A' + (c-'A'+13)%26
		}
	}
	return string(b)
}

// dotted reads NAME(.NAME)* at i and resolves the first name through the
// imports; it returns the path and the index after it.
func (a *analysis) dotted(t []token, i int) (string, int) {
	parts := []string{t[i].s}
	j := i + 1
	for j+1 < len(t) && t[j].k == tOp && t[j].s == "." && t[j+1].k == tName {
		parts = append(parts, t[j+1].s)
		j += 2
	}
	if full, ok := a.alias[parts[0]]; ok {
		parts[0] = full
	}
	return strings.Join(parts, "."), j
}

// reference judges a (resolved) dotted name used at t[j-1].
func (a *analysis) reference(path string, t []token, j, line int, onLoad bool) {
	call := j < len(t) && t[j].k == tOp && t[j].s == "("
	switch {
	case path == "getattr" && call:
		a.getattr(t, j, line, onLoad)
		return
	case path == "__builtins__" || path == "builtins" || strings.HasPrefix(path, "builtins."):
		if strings.HasPrefix(path, "builtins.") && builtinSinks[strings.TrimPrefix(path, "builtins.")] {
			a.sink(path, "executes code", line, onLoad)
			return
		}
		if j+1 < len(t) && t[j].s == "[" && t[j+1].k == tString {
			a.dynamic(t[j+1].s, line, "__builtins__["+strconv.Quote(t[j+1].s)+"]", onLoad)
			return
		}
		a.add(rules.PythonDynamicAccess, line, "the code reaches into "+path)
		return
	case (path == "globals" || path == "locals" || path == "vars") && call:
		if j+3 < len(t) && t[j+1].s == ")" && t[j+2].s == "[" && t[j+3].k == tString {
			a.dynamic(t[j+3].s, line, path+"()["+strconv.Quote(t[j+3].s)+"]", onLoad)
			return
		}
		if j+2 < len(t) && t[j+1].s == ")" && t[j+2].s == "[" {
			a.add(rules.PythonDynamicAccess, line, path+"()[...] looks a name up at run time")
		}
		return
	}
	if builtinSinks[path] {
		a.sink(path, "executes code", line, onLoad)
		return
	}
	cats := []struct{ list, what string }{{"code_exec", "executes code"}, {"process", "starts a process"}, {"network", "opens a network connection"}, {"destructive", "deletes or alters host files"}}
	if a.opts.TorchScript {
		a.native(path, line)
		cats = append(cats, struct{ list, what string }{"torchscript_sinks", "reads or writes host files"})
	}
	for _, cat := range cats {
		if !strings.Contains(path, ".") || !a.rs.List(cat.list).HasPrefix(path) {
			continue
		}
		if !call && (cat.list == "network" || cat.list == "destructive" || cat.list == "torchscript_sinks") {
			return // a constant or exception class (socket.AF_INET), not a call
		}
		a.sink(path, cat.what, line, onLoad)
		return
	}
}

func (a *analysis) sink(path, what string, line int, onLoad bool) {
	if onLoad && a.loaded {
		when := "when the module is imported or the model is constructed"
		if a.opts.TorchScript {
			when = "when torch.jit.load rebuilds the module (__setstate__)"
		}
		a.add(rules.PythonSinkOnLoad, line, fmt.Sprintf("%s %s %s", path, what, when))
	} else {
		a.add(rules.PythonSinkInFunction, line, fmt.Sprintf("%s %s when its function is called", path, what))
	}
}

// native judges a TorchScript reference to an operator or class
// namespace: PyTorch's own are built in, the domain libraries' are
// installed by the user, anything else needs a native library.
func (a *analysis) native(path string, line int) {
	var ns, kind string
	switch {
	case strings.HasPrefix(path, "ops."):
		ns, kind = path[len("ops."):], "operator"
	case strings.HasPrefix(path, "torch.ops."):
		ns, kind = path[len("torch.ops."):], "operator"
	case strings.HasPrefix(path, "torch.classes."):
		ns, kind = path[len("torch.classes."):], "class"
	case strings.HasPrefix(path, "__torch__.torch.classes."):
		ns, kind = path[len("__torch__.torch.classes."):], "class"
	default:
		return
	}
	full := ns
	if i := strings.IndexByte(ns, '.'); i >= 0 {
		ns = ns[:i]
	} else {
		return // the namespace alone (ops.aten as a value), no operator
	}
	if ns == "" || a.rs.List("torchscript_builtin_namespaces").Has(ns) || a.rs.List("torchscript_library_namespaces").Has(ns) {
		return
	}
	if kind == "class" {
		a.add(rules.TorchscriptCustomClass, line, fmt.Sprintf("the code uses the custom class torch.classes.%s, which a native library must register before the archive loads", full))
		return
	}
	a.add(rules.TorchscriptCustomOp, line, fmt.Sprintf("the code calls the custom operator %s::%s, which a native library must register before the archive loads", ns, strings.TrimPrefix(full, ns+".")))
}

// getattr(x, "name") is x.name; a computed name hides the call.
func (a *analysis) getattr(t []token, j, line int, onLoad bool) {
	if j+3 < len(t) && t[j+1].k == tName {
		obj, k := a.dotted(t, j+1)
		if k+1 < len(t) && t[k].s == "," && t[k+1].k == tString {
			a.reference(obj+"."+t[k+1].s, t, k+2, line, onLoad)
			if obj == "__builtins__" || obj == "builtins" {
				a.dynamic(t[k+1].s, line, "getattr("+obj+", "+strconv.Quote(t[k+1].s)+")", onLoad)
			}
			return
		}
		if k < len(t) && t[k].s == "," && (a.isModule(obj) || obj == "__builtins__" || obj == "builtins") {
			a.add(rules.PythonDynamicAccess, line, fmt.Sprintf("getattr(%s, ...) with a computed name", obj))
		}
	}
}

func (a *analysis) isModule(name string) bool {
	for _, v := range a.alias {
		if v == name {
			return true
		}
	}
	return false
}

// dynamic judges a name looked up by string.
func (a *analysis) dynamic(name string, line int, how string, onLoad bool) {
	if builtinSinks[name] || name == "open" {
		a.add(rules.PythonObfuscatedName, line, fmt.Sprintf("%s reaches %s", how, name))
		return
	}
	a.add(rules.PythonDynamicAccess, line, how)
}

func (a *analysis) imports(t []token) {
	if t[0].s == "import" {
		// import a.b as c, d
		for i := 1; i < len(t); {
			if t[i].k != tName {
				i++
				continue
			}
			path, j := dottedRaw(t, i)
			name := strings.SplitN(path, ".", 2)[0]
			target := name
			if j+1 < len(t) && t[j].s == "as" && t[j+1].k == tName {
				name, target = t[j+1].s, path
				j += 2
			}
			a.alias[name] = target
			i = j
		}
		return
	}
	// from X import a as b, c
	i := 1
	rel := ""
	for i < len(t) && t[i].k == tOp && t[i].s == "." {
		rel += "."
		i++
	}
	mod := ""
	if i < len(t) && t[i].k == tName && t[i].s != "import" {
		mod, i = dottedRaw(t, i)
	}
	for i < len(t) && t[i].s != "import" {
		i++
	}
	for i++; i < len(t); i++ {
		if t[i].k != tName {
			continue
		}
		name := t[i].s
		local := name
		if i+2 < len(t) && t[i+1].s == "as" && t[i+2].k == tName {
			local = t[i+2].s
			i += 2
		}
		if rel != "" {
			if mod == "" {
				a.res.RelImports = append(a.res.RelImports, rel+name)
			}
			continue
		}
		a.alias[local] = mod + "." + name
	}
	if rel != "" && mod != "" {
		a.res.RelImports = append(a.res.RelImports, rel+mod)
	}
}

func dottedRaw(t []token, i int) (string, int) {
	parts := []string{t[i].s}
	j := i + 1
	for j+1 < len(t) && t[j].s == "." && t[j+1].k == tName {
		parts = append(parts, t[j+1].s)
		j += 2
	}
	return strings.Join(parts, "."), j
}

var (
	b64Re = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9+/=_\-\s]{24,}$`) })
	hexRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?:[0-9a-fA-F]{2}){16,}$`) })
)

// literal checks one string literal for shell fragments and encoded
// payloads.
func (a *analysis) literal(tk token, t []token, i int) {
	low := strings.ToLower(tk.s)
	for _, s := range a.rs.List("suspicious_strings").Values {
		if strings.Contains(low, s) {
			a.add(rules.PythonSuspiciousString, tk.line, fmt.Sprintf("a string contains %q", s))
			break
		}
	}
	// "metsys"[::-1]
	if i+6 < len(t) && t[i+1].s == "[" && t[i+2].s == ":" && t[i+3].s == ":" && t[i+4].s == "-" && t[i+5].s == "1" {
		a.obfuscated(pystr.Reverse(tk.s), tk.line, "a reversed string")
	}
	if decoded, how := decode(tk); decoded != nil {
		a.payload(decoded, how, tk.line)
	}
}

// decode returns the bytes an encoded literal stands for, or nil.
func decode(tk token) ([]byte, string) {
	s := tk.s
	if tk.bytes {
		if d := decompress([]byte(s)); d != nil {
			return d, "compressed bytes"
		}
		return nil, ""
	}
	compact := strings.Join(strings.Fields(s), "")
	switch {
	case hexRe().MatchString(compact):
		b, err := hex.DecodeString(compact)
		if err == nil {
			return b, "hex"
		}
	case b64Re().MatchString(s) && len(compact)%4 == 0 || b64Re().MatchString(s) && len(compact) >= 64:
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(compact); err == nil {
				return b, "base64"
			}
		}
	}
	return nil, ""
}

// payload analyses decoded bytes: decompressed when compressed, analysed
// as code when they read as code.
func (a *analysis) payload(b []byte, how string, line int) {
	if d := decompress(b); d != nil {
		b, how = d, how+" + compression"
	}
	if looksLikeCode(b) && a.depth < 3 {
		inner := analyze(string(b), Options{Loaded: true}, a.depth+1)
		for _, is := range inner.Issues {
			switch is.Rule {
			case rules.PythonSinkOnLoad, "python-sink-in-function", rules.PythonSuspiciousString, "python-obfuscated-name", rules.PythonEncodedPayload:
				a.add(rules.PythonEncodedPayload, line, fmt.Sprintf("a %s literal decodes to code: %s", how, is.Msg))
				return
			}
		}
	}
	if len(b) >= 32 && (bytes.HasPrefix(b, []byte("\x7fELF")) || bytes.HasPrefix(b, []byte("MZ")) || len(b) > 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5) {
		a.add(rules.PythonEncodedPayload, line, fmt.Sprintf("a %s literal decodes to an executable or pickle", how))
		return
	}
	if len(b) >= 150 {
		a.add(rules.PythonEncodedBlob, line, fmt.Sprintf("a %s literal of %d bytes", how, len(b)))
	}
}

func looksLikeCode(b []byte) bool {
	s := string(b)
	return strings.Contains(s, "import") || strings.Contains(s, "(") && (strings.Contains(s, "os.") || strings.Contains(s, "exec") || strings.Contains(s, "eval"))
}

func decompress(b []byte) []byte {
	var r io.Reader
	var err error
	switch {
	case len(b) > 2 && b[0] == 0x78 && (b[1] == 0x01 || b[1] == 0x5e || b[1] == 0x9c || b[1] == 0xda):
		r, err = zlib.NewReader(bytes.NewReader(b))
	case bytes.HasPrefix(b, []byte("\x1f\x8b")):
		r, err = gzip.NewReader(bytes.NewReader(b))
	case bytes.HasPrefix(b, []byte("BZh")):
		r = bzip2.NewReader(bytes.NewReader(b))
	case bytes.HasPrefix(b, []byte("\xfd7zXZ\x00")):
		r, err = xz.NewReader(bytes.NewReader(b))
	default:
		return nil
	}
	if err != nil {
		return nil
	}
	d, err := io.ReadAll(io.LimitReader(r, maxDecoded))
	if err != nil && len(d) == 0 {
		return nil
	}
	return d
}

// fold checks names assembled from pieces on one line.
func (a *analysis) fold(lits []string, chrs string, line int) {
	if chrs != "" {
		a.obfuscated(chrs, line, "chr() codes")
	}
	if len(lits) < 2 {
		return
	}
	joined := strings.Join(lits, "")
	for _, n := range a.rs.List("obfuscated_names").Values {
		if !strings.Contains(joined, n) {
			continue
		}
		whole := false
		for _, l := range lits {
			if strings.Contains(l, n) {
				whole = true
			}
		}
		if !whole {
			a.add(rules.PythonObfuscatedName, line, fmt.Sprintf("string pieces join into %q", n))
			return
		}
	}
}

func (a *analysis) obfuscated(s string, line int, how string) {
	for _, n := range a.rs.List("obfuscated_names").Values {
		if strings.Contains(s, n) {
			a.add(rules.PythonObfuscatedName, line, fmt.Sprintf("%s spell %q", how, n))
			return
		}
	}
	for _, n := range a.rs.List("suspicious_strings").Values {
		if strings.Contains(strings.ToLower(s), n) {
			a.add(rules.PythonObfuscatedName, line, fmt.Sprintf("%s spell %q", how, n))
			return
		}
	}
}
