package dataset

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
)

// compact builds thrift compact-protocol bytes for test footers.
type compact struct{ b []byte }

func (c *compact) field(delta, typ byte) *compact { c.b = append(c.b, delta<<4|typ); return c }
func (c *compact) varint(v uint64) *compact       { c.b = binary.AppendUvarint(c.b, v); return c }
func (c *compact) i(v int64) *compact             { return c.varint(uint64(v<<1) ^ uint64(v>>63)) }
func (c *compact) str(s string) *compact          { c.varint(uint64(len(s))); c.b = append(c.b, s...); return c }
func (c *compact) list(n, typ byte) *compact      { c.b = append(c.b, n<<4|typ); return c }
func (c *compact) stop() *compact                 { c.b = append(c.b, 0); return c }

// parquetFile is PAR1, a fake data page, the footer, its length, PAR1.
func parquetFile(rows int64) []byte {
	c := &compact{}
	c.field(1, tI32).i(1)
	c.field(1, tList).list(3, tStruct)
	c.field(4, tBinary).str("schema").field(1, tI32).i(2).stop()                   // root, 2 children
	c.field(1, tI32).i(6).field(3, tBinary).str("text").field(2, tI32).i(0).stop() // BYTE_ARRAY, UTF8
	c.field(1, tI32).i(2).field(3, tBinary).str("label").stop()                    // INT64
	c.field(1, tI64).i(rows)
	c.field(1, tList).list(0, tStruct)
	c.field(2, tBinary).str("test writer")
	c.stop()
	var f bytes.Buffer
	f.WriteString("PAR1")
	f.WriteString("data pages are never read")
	f.Write(c.b)
	binary.Write(&f, binary.LittleEndian, uint32(len(c.b)))
	f.WriteString("PAR1")
	return f.Bytes()
}

func TestParquetFooter(t *testing.T) {
	b := parquetFile(12345)
	f, err := Parquet(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if f.Rows != 12345 || f.Schema() != "text:string,label:int64" || f.CreatedBy != "test writer" {
		t.Errorf("%+v schema %s", f, f.Schema())
	}
}

func TestParquetShared(t *testing.T) {
	p := testutil.Shared(t, "corpus", "datasets", "reviews", "train.parquet")
	b := readFile(t, p)
	f, err := Parquet(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if f.Rows != 200 || f.Schema() != "text:string,label:int64" || f.RowGroups != 1 {
		t.Errorf("%+v", f)
	}
}

func TestParquetHostile(t *testing.T) {
	good := parquetFile(1)
	for name, b := range map[string][]byte{
		"no trailer":        []byte("PAR1xxxxxxxxxxxx"),
		"length past start": append(append([]byte("PAR1"), bytes.Repeat([]byte{0}, 8)...), 0xff, 0xff, 0xff, 0x7f, 'P', 'A', 'R', '1'),
		"truncated footer":  append(append([]byte("PAR1"), good[29:40]...), 11, 0, 0, 0, 'P', 'A', 'R', '1'),
		"huge list":         footer([]byte{0x19, 0xfc, 0xff, 0xff, 0xff, 0x0f}),
		"deep structs":      footer(append([]byte{0x1c}, bytes.Repeat([]byte{0x1c}, 100)...)),
		"negative rows":     footer([]byte{0x36, 0x01, 0x00}),
	} {
		if _, err := Parquet(bytes.NewReader(b), int64(len(b))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func footer(meta []byte) []byte {
	var f bytes.Buffer
	f.WriteString("PAR1")
	f.Write(meta)
	binary.Write(&f, binary.LittleEndian, uint32(len(meta)))
	f.WriteString("PAR1")
	return f.Bytes()
}

func TestJSONLAndCSV(t *testing.T) {
	jsonl := "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": null, \"extra\": [1]}\n"
	f, err := Inspect("jsonl", strings.NewReader(jsonl), int64(len(jsonl)))
	if err != nil || f.Schema() != "text:string,label:number,extra:array" {
		t.Errorf("%v %v", f, err)
	}
	rc := NewRowCounter("jsonl")
	io.Copy(rc, strings.NewReader(jsonl+"{\"text\": \"c\"}"))
	if rc.Rows() != 3 {
		t.Errorf("jsonl rows %d", rc.Rows())
	}
	csv := "id,text,score\n1,\"multi\nline\",0.5\n2,plain,1\n"
	f, err = Inspect("csv", strings.NewReader(csv), int64(len(csv)))
	if err != nil || f.Schema() != "id:integer,text:string,score:number" {
		t.Errorf("%v %v", f, err)
	}
	rc = NewRowCounter("csv")
	for _, b := range []byte(csv) { // byte by byte: state survives writes
		rc.Write([]byte{b})
	}
	if rc.Rows() != 2 {
		t.Errorf("csv rows %d", rc.Rows())
	}
	if _, err := Inspect("jsonl", strings.NewReader("not json\n"), 9); err == nil {
		t.Error("non-JSON lines accepted")
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzParquet(f *testing.F) {
	f.Add(parquetFile(3))
	f.Add(footer([]byte{0x19, 0x1c, 0x00, 0x00}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Parquet(bytes.NewReader(b), int64(len(b)))
		_, _ = parseFooter(b)
	})
}

func FuzzText(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n{\"b\":\"x\"}\n"))
	f.Add([]byte("a,b\n1,\"x\ny\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, format := range []string{"jsonl", "csv", "tsv"} {
			_, _ = Inspect(format, bytes.NewReader(b), int64(len(b)))
			rc := NewRowCounter(format)
			rc.Write(b)
			if rc.Rows() < 0 {
				t.Fatal("negative rows")
			}
		}
	})
}
