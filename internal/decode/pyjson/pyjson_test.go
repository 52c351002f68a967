package pyjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// collector renders the events as a canonical text, so two parses can be
// compared.
type collector struct {
	b      strings.Builder
	values int
}

func pathString(p []Elem) string {
	var b strings.Builder
	for _, e := range p {
		if e.IsIndex {
			fmt.Fprintf(&b, "[%d]", e.Index)
		} else {
			fmt.Fprintf(&b, ".%q", e.Key)
		}
	}
	return b.String()
}

func (c *collector) Value(p []Elem, k Kind, text string, trunc bool) error {
	c.values++
	fmt.Fprintf(&c.b, "%s=%d:%q:%v\n", pathString(p), k, text, trunc)
	return nil
}
func (c *collector) Enter(p []Elem, obj bool) error {
	fmt.Fprintf(&c.b, "%s{%v\n", pathString(p), obj)
	return nil
}
func (c *collector) Leave(p []Elem, obj bool) error {
	fmt.Fprintf(&c.b, "%s}%v\n", pathString(p), obj)
	return nil
}

func walk(s string, lim Limits) (*collector, error) {
	c := &collector{}
	return c, Walk(strings.NewReader(s), lim, c)
}

// What Python's json.loads accepts and rejects (checked against CPython
// 3.11 when the cases were written).
func TestPythonGrammar(t *testing.T) {
	accept := []string{
		`{}`, `[]`, `0`, `-0`, `1.5e10`, `1E-2`, `"x"`, `true`, `null`,
		`NaN`, `Infinity`, `-Infinity`, `[NaN, -Infinity, Infinity]`,
		` {"a": [1, {"b": null}]} `, "\n\t[1]\r\n",
		`{"a": 1, "a": 2}`, // duplicate keys: the last wins in Python
		`"\ud83d\ude00"`, `"\ud800"`, `"\u00e9\n\/"`,
	}
	for _, s := range accept {
		if _, err := walk(s, Limits{}); err != nil {
			t.Errorf("%q rejected: %v", s, err)
		}
	}
	reject := []string{
		``, `{`, `[1,]`, `{"a":1,}`, `01`, `+1`, `.5`, `1.`, `1e`, `nan`, `inf`, `-NaN`,
		`{'a': 1}`, `{a: 1}`, "\"a\tb\"", `"\x"`, `"\u12"`, `[1 2]`, `{} {}`, `tru`, `[1]x`,
	}
	for _, s := range reject {
		if _, err := walk(s, Limits{}); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestPathsAndValues(t *testing.T) {
	c, err := walk(`{"chat_template": [{"name": "default", "template": "{{ x }}"}], "n": -1.5e3, "s": "a\"b"}`, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := `{true
."chat_template"{false
."chat_template"[0]{true
."chat_template"[0]."name"=0:"default":false
."chat_template"[0]."template"=0:"{{ x }}":false
."chat_template"[0]}true
."chat_template"}false
."n"=1:"-1.5e3":false
."s"=0:"a\"b":false
}true
`
	if c.b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", c.b.String(), want)
	}
}

func TestBounds(t *testing.T) {
	deep := strings.Repeat("[", 600) + strings.Repeat("]", 600)
	if _, err := walk(deep, Limits{MaxDepth: 512}); !errors.Is(err, ErrDepth) {
		t.Errorf("depth: %v", err)
	}
	long := `{"t": "` + strings.Repeat("a", 100) + `"}`
	c, err := walk(long, Limits{MaxString: 10})
	if err != nil || !strings.Contains(c.b.String(), `"aaaaaaaaaa":true`) {
		t.Errorf("truncation: %v %s", err, c.b.String())
	}
}

// A document far larger than any buffer is read as a stream.
func TestLargeDocumentStreams(t *testing.T) {
	r := io.MultiReader(strings.NewReader(`{"added_tokens": [`),
		&repeat{s: `{"id": 1, "content": "<tok>"},`, n: 200000},
		strings.NewReader(`{"id": 2}], "chat_template": "{{ evil }}"}`))
	var found string
	err := Walk(r, Limits{}, visitFunc(func(p []Elem, k Kind, text string) {
		if len(p) == 1 && p[0].Key == "chat_template" {
			found = text
		}
	}))
	if err != nil || found != "{{ evil }}" {
		t.Fatalf("%v %q", err, found)
	}
}

type repeat struct {
	s   string
	n   int
	buf []byte
}

func (r *repeat) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.n == 0 {
			return 0, io.EOF
		}
		r.n--
		r.buf = []byte(r.s)
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

type visitFunc func(p []Elem, k Kind, text string)

func (f visitFunc) Value(p []Elem, k Kind, text string, _ bool) error { f(p, k, text); return nil }
func (visitFunc) Enter([]Elem, bool) error                            { return nil }
func (visitFunc) Leave([]Elem, bool) error                            { return nil }

// FuzzWalk: never a panic or hang; whatever encoding/json (RFC 8259)
// accepts is accepted too, with the same strings and the same shape.
func FuzzWalk(f *testing.F) {
	for _, s := range []string{`{"a": [1, 2.5, "x", null, true]}`, `NaN`, `"\ud83d\ude00"`, `[[[]]]`, `{"a":{"b":{"c":"d"}}}`, `1e5`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := walk(string(b), Limits{MaxDepth: 10000, MaxString: 1 << 30})
		var v any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		stdErr := dec.Decode(&v)
		if stdErr == nil {
			if _, e := dec.Token(); e != io.EOF {
				stdErr = errors.New("trailing data")
			}
		}
		if stdErr == nil && err != nil {
			if bytes.ContainsAny(b, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f") {
				return // encoding/json is laxer about nothing here; skip odd bytes
			}
			t.Fatalf("encoding/json accepts %q, pyjson rejects: %v", b, err)
		}
		// Duplicate keys collapse in a map, never in the stream.
		if stdErr == nil && err == nil && c.values < countScalars(v) {
			t.Fatalf("%q: %d scalars, encoding/json has %d", b, c.values, countScalars(v))
		}
	})
}

func countScalars(v any) int {
	switch x := v.(type) {
	case map[string]any:
		n := 0
		for _, e := range x {
			n += countScalars(e)
		}
		return n
	case []any:
		n := 0
		for _, e := range x {
			n += countScalars(e)
		}
		return n
	}
	return 1
}
