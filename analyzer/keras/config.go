package keras

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/decode/pyjson"
	"github.com/aigis-dev/aigis/internal/rules"
)

// maxConfig bounds the configuration parsed (decoded JSON costs about ten
// times its size); real configurations are at most a few MB.
const maxConfig = 8 << 20

// maxDepth bounds the walk of nested configurations.
const maxDepth = 256

// checkConfig reports what deserialising the Keras configuration cfg
// would do. loc locates the configuration in the file. fromBytes says how
// Keras gets the text: a .keras archive's config.json is bytes, which
// json.loads decodes itself (a BOM, UTF-16 and UTF-32 are accepted); an
// HDF5 attribute is a str already (UTF-8, no BOM).
func checkConfig(cfg []byte, loc string, out *analyzer.Result, fromBytes bool) {
	rs := rules.Format("keras")
	if len(cfg) > maxConfig {
		out.Add(rules.New(rules.LimitReached, loc, fmt.Sprintf("model configuration of %d bytes exceeds the %d-byte budget; not checked", len(cfg), maxConfig)))
		return
	}
	v, err := parseConfig(cfg, fromBytes)
	switch {
	case errors.Is(err, pyjson.ErrDepth):
		out.Add(rules.New(rules.LimitReached, loc, fmt.Sprintf("model configuration nested deeper than %d; not checked", maxDepth)))
		return
	case err != nil:
		out.Add(rules.New(rules.KerasBadConfig, loc, fmt.Sprintf("model configuration is not JSON that Python reads: %v", err)))
		return
	}
	c := &checker{rs: rs, out: out, loc: loc, seen: map[string]bool{}}
	c.walk(v, "$", 0)
}

// parseConfig reads the configuration the way Keras does, with Python's
// json.loads: NaN, Infinity and -Infinity are numbers, and a key given
// twice keeps its last value.
func parseConfig(cfg []byte, fromBytes bool) (any, error) {
	text, err := jsonText(cfg, fromBytes)
	if err != nil {
		return nil, err
	}
	t := &treeBuilder{}
	if err := pyjson.Walk(bytes.NewReader(text), pyjson.Limits{MaxDepth: maxDepth, MaxString: maxConfig + 1}, t); err != nil {
		return nil, err
	}
	return t.root, nil
}

// jsonText decodes the configuration to UTF-8 as json.loads does: for
// bytes, json.detect_encoding picks UTF-8 (a BOM is skipped), UTF-16 or
// UTF-32 from the BOM or the zero bytes; a str must not start with a BOM.
func jsonText(b []byte, fromBytes bool) ([]byte, error) {
	bom8 := []byte{0xef, 0xbb, 0xbf}
	if !fromBytes {
		if !utf8.Valid(b) {
			return nil, errors.New("not UTF-8")
		}
		if bytes.HasPrefix(b, bom8) {
			return nil, errors.New("unexpected UTF-8 BOM")
		}
		return b, nil
	}
	enc := "utf-8"
	switch {
	case bytes.HasPrefix(b, []byte{0, 0, 0xfe, 0xff}), bytes.HasPrefix(b, []byte{0xff, 0xfe, 0, 0}):
		enc = "utf-32"
	case bytes.HasPrefix(b, []byte{0xfe, 0xff}), bytes.HasPrefix(b, []byte{0xff, 0xfe}):
		enc = "utf-16"
	case bytes.HasPrefix(b, bom8):
		return validUTF8(b[3:])
	case len(b) >= 4 && b[0] == 0:
		enc = map[bool]string{true: "utf-16be", false: "utf-32be"}[b[1] != 0]
	case len(b) >= 4 && b[1] == 0:
		enc = map[bool]string{true: "utf-16le", false: "utf-32le"}[b[2] != 0 || b[3] != 0]
	case len(b) == 2 && b[0] == 0:
		enc = "utf-16be"
	case len(b) == 2 && b[1] == 0:
		enc = "utf-16le"
	}
	if enc == "utf-8" {
		return validUTF8(b)
	}
	return decodeWide(b, enc)
}

// validUTF8 accepts UTF-8, with the encoded surrogates that Python's
// "surrogatepass" lets through.
func validUTF8(b []byte) ([]byte, error) {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			if i+2 < len(b) && b[i] == 0xed && b[i+1] >= 0xa0 && b[i+1] <= 0xbf && b[i+2]&0xc0 == 0x80 {
				i += 3
				continue
			}
			return nil, fmt.Errorf("invalid UTF-8 at byte %d", i)
		}
		i += n
	}
	return b, nil
}

// decodeWide decodes UTF-16 and UTF-32 (with or without BOM, as Python's
// codecs of those names do) to UTF-8.
func decodeWide(b []byte, enc string) ([]byte, error) {
	big := strings.HasSuffix(enc, "be")
	width := 2
	if strings.HasPrefix(enc, "utf-32") {
		width = 4
	}
	if enc == "utf-16" || enc == "utf-32" { // the BOM says which end
		big = b[0] == 0 || b[0] == 0xfe
		b = b[width:]
	}
	if len(b)%width != 0 {
		return nil, fmt.Errorf("truncated %s data", enc)
	}
	var out []byte
	var units []uint16
	for i := 0; i < len(b); i += width {
		var v uint32
		for k := 0; k < width; k++ {
			c := uint32(b[i+k])
			if big {
				v = v<<8 | c
			} else {
				v |= c << (8 * k)
			}
		}
		if width == 2 {
			units = append(units, uint16(v))
			continue
		}
		if v > unicode.MaxRune {
			return nil, fmt.Errorf("code point %#x out of range", v)
		}
		out = utf8.AppendRune(out, rune(v))
	}
	if width == 2 {
		for _, r := range utf16.Decode(units) {
			out = utf8.AppendRune(out, r)
		}
	}
	return out, nil
}

// treeBuilder turns pyjson's events into nested map[string]any, []any,
// string, float64 (numbers, kept as text), bool and nil values.
type treeBuilder struct {
	root  any
	stack []any // open containers: map[string]any or *[]any
}

func (t *treeBuilder) put(path []pyjson.Elem, v any) {
	if len(t.stack) == 0 {
		t.root = v
		return
	}
	switch c := t.stack[len(t.stack)-1].(type) {
	case map[string]any:
		c[path[len(path)-1].Key] = v // the last of duplicate keys wins
	case *[]any:
		*c = append(*c, v)
	}
}

func (t *treeBuilder) Value(path []pyjson.Elem, kind pyjson.Kind, text string, _ bool) error {
	var v any
	switch kind {
	case pyjson.String, pyjson.Number:
		v = text
		if kind == pyjson.Number {
			v = jsonNumber(text)
		}
	case pyjson.Bool:
		v = text == "true"
	}
	t.put(path, v)
	return nil
}

// jsonNumber is a number kept as its text, so that it is never confused
// with a string.
type jsonNumber string

func (t *treeBuilder) Enter(path []pyjson.Elem, object bool) error {
	var c any
	if object {
		c = map[string]any{}
	} else {
		c = &[]any{}
	}
	t.put(path, nil) // placeholder, replaced on Leave
	t.stack = append(t.stack, c)
	return nil
}

func (t *treeBuilder) Leave(path []pyjson.Elem, object bool) error {
	c := t.stack[len(t.stack)-1]
	t.stack = t.stack[:len(t.stack)-1]
	var v any = c
	if l, ok := c.(*[]any); ok {
		v = *l
	}
	if len(t.stack) == 0 {
		t.root = v
		return nil
	}
	switch p := t.stack[len(t.stack)-1].(type) {
	case map[string]any:
		p[path[len(path)-1].Key] = v
	case *[]any:
		(*p)[len(*p)-1] = v
	}
	return nil
}

type checker struct {
	rs   *rules.Set
	out  *analyzer.Result
	loc  string
	seen map[string]bool
}

func (c *checker) add(id rules.ID, msg string) {
	if c.seen[string(id)+msg] {
		return
	}
	c.seen[string(id)+msg] = true
	c.out.Add(rules.New(id, c.loc, msg))
}

func (c *checker) walk(v any, at string, depth int) {
	if depth > maxDepth {
		c.add(rules.KerasBadConfig, fmt.Sprintf("configuration nested deeper than %d at %s", maxDepth, at))
		return
	}
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			c.walk(e, fmt.Sprintf("%s[%d]", at, i), depth+1)
		}
	case map[string]any:
		c.object(x, at)
		for k, e := range x {
			c.walk(e, at+"."+k, depth+1)
		}
	}
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// object judges one serialised object.
func (c *checker) object(m map[string]any, at string) {
	cn := str(m, "class_name")
	cfg, _ := m["config"].(map[string]any)
	layer := str(cfg, "name")
	switch cn {
	case "Lambda", "__lambda__":
		how := "a Python function"
		if f, ok := cfg["function"].([]any); ok && len(f) > 0 {
			how = "marshalled Python bytecode"
		} else if f, ok := cfg["function"].(map[string]any); ok && str(f, "class_name") == "__lambda__" {
			how = "a serialised lambda"
		} else if cn == "__lambda__" {
			how = "a serialised lambda"
		}
		c.add("keras-lambda", fmt.Sprintf("%s layer %q at %s carries %s that runs on load", cn, layer, at, how))
	case "TFOpLambda", "SlicingOpLambda":
		if fn := str(cfg, "function"); fn != "" && c.rs.List("tf_op_functions").HasPrefix(fn) {
			c.add("keras-dangerous-function", fmt.Sprintf("%s layer %q at %s calls tf.%s", cn, layer, at, fn))
		}
	}
	module, hasModule := m["module"].(string)
	name := cn
	if cn == "function" {
		if s, ok := m["config"].(string); ok {
			name = s
		}
	}
	// A module only matters on a serialised object (with a class name); a
	// Lambda's own config records its function's module for information.
	if hasModule && module != "" && cn != "" {
		inKeras := c.rs.List("keras_modules").HasPrefix(module)
		switch {
		case inKeras && c.rs.List("dangerous_functions").Has(name):
			c.add("keras-dangerous-function", fmt.Sprintf("%s.%s at %s", module, name, at))
		case inKeras:
		default:
			d := rules.Pickle().Classify(module, name)
			if d.Action == rules.Deny {
				c.add("keras-dangerous-module", fmt.Sprintf("%s:%s at %s (%s)", module, name, at, d.Rule.ID))
			} else if c.rs.List("dangerous_functions").Has(name) {
				c.add("keras-dangerous-function", fmt.Sprintf("%s.%s at %s", module, name, at))
			} else {
				c.add("keras-external-module", fmt.Sprintf("%s.%s at %s is imported from outside Keras", module, name, at))
			}
		}
	}
	if rn := str(m, "registered_name"); strings.Contains(rn, ">") && !strings.HasPrefix(rn, "keras") {
		c.add("keras-custom-object", fmt.Sprintf("custom object %q at %s", rn, at))
	}
	c.fileReferences(cn, cfg, layer, at)
}

// fileReferences reports configuration values that a layer opens as a
// file or URL when it is deserialised (rules list file_reading_configs).
func (c *checker) fileReferences(cn string, cfg map[string]any, layer, at string) {
	if cn == "" || cfg == nil {
		return
	}
	for _, pat := range c.rs.List("file_reading_configs").Values {
		class, key, _ := strings.Cut(pat, ".")
		if suffix, ok := strings.CutPrefix(class, "*"); ok && !strings.HasSuffix(cn, suffix) || !ok && class != cn {
			continue
		}
		p, ok := cfg[key].(string)
		if !ok || p == "" {
			continue // a vocabulary given as a list is data, not a file
		}
		if why := escapingPath(p); why != "" {
			c.add(rules.KerasFileReferenceEscape, fmt.Sprintf("%s layer %q at %s reads %s %q, which %s, when the model is loaded", cn, layer, at, key, clip(p), why))
		} else {
			c.add(rules.KerasFileReference, fmt.Sprintf("%s layer %q at %s reads the file %q (%s) from the loading machine when the model is loaded", cn, layer, at, clip(p), key))
		}
	}
}

// escapingPath says why a path names something outside the model (a
// URL, an absolute path, a home directory, a climb with ..), or "".
func escapingPath(p string) string {
	l := strings.ReplaceAll(p, "\\", "/")
	switch {
	case strings.Contains(l, "://"):
		return "is a URL"
	case strings.HasPrefix(l, "/") || len(l) >= 2 && l[1] == ':':
		return "is an absolute path"
	case strings.HasPrefix(l, "~"):
		return "starts from a home directory"
	case strings.ContainsRune(l, 0):
		return "contains a NUL byte"
	}
	for _, part := range strings.Split(l, "/") {
		if part == ".." {
			return "climbs out with .."
		}
	}
	return ""
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
