package dataset

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// Parquet bounds.
const (
	// MaxFooter bounds the footer (FileMetaData) read into memory.
	MaxFooter      = 16 << 20
	maxThriftDepth = 32
	maxListLen     = 1 << 20
	maxColumns     = 4096
)

var parquetTypes = []string{"boolean", "int32", "int64", "int96", "float", "double", "binary", "fixed_len_byte_array"}

// converted types that name what the physical type holds.
var convertedTypes = map[int64]string{0: "string", 1: "map", 3: "list", 4: "enum", 5: "decimal", 6: "date", 7: "time", 8: "time",
	9: "timestamp", 10: "timestamp", 11: "uint8", 12: "uint16", 13: "uint32", 14: "uint64", 15: "int8", 16: "int16", 17: "int32",
	18: "int64", 19: "json", 20: "bson", 21: "interval"}

// Parquet reads a parquet file's footer: the row count and the top-level
// columns. It never reads a data page.
func Parquet(ra io.ReaderAt, size int64) (*Facts, error) {
	if size < 12 {
		return nil, errors.New("parquet: file too short")
	}
	var tail [8]byte
	if _, err := ra.ReadAt(tail[:], size-8); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	if string(tail[4:]) != "PAR1" {
		return nil, errors.New("parquet: no PAR1 trailer")
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n > size-12 {
		return nil, fmt.Errorf("parquet: footer length %d does not fit the %d-byte file", n, size)
	}
	if n > MaxFooter {
		return nil, fmt.Errorf("parquet: footer of %d bytes is over the %d-byte limit", n, MaxFooter)
	}
	buf := make([]byte, n)
	if _, err := ra.ReadAt(buf, size-8-n); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	return parseFooter(buf)
}

type schemaElement struct {
	typ, converted, children int64
	name                     string
	logicalString            bool
}

func parseFooter(b []byte) (*Facts, error) {
	t := &thrift{b: b}
	f := &Facts{Format: "parquet", RowsExact: true}
	var schema []schemaElement
	err := t.structFields(0, func(id int16, typ byte) error {
		switch {
		case id == 2 && typ == tList:
			return t.list(1, func(et byte) error {
				if et != tStruct {
					return t.skip(et, 1)
				}
				if len(schema) >= maxListLen {
					return errors.New("too many schema elements")
				}
				el, err := t.schemaElement()
				schema = append(schema, el)
				return err
			})
		case id == 3 && typ == tI64:
			v, err := t.varint()
			f.Rows = zigzag(v)
			return err
		case id == 4 && typ == tList:
			return t.list(1, func(et byte) error {
				f.RowGroups++
				return t.skip(et, 1)
			})
		case id == 6 && typ == tBinary:
			s, err := t.binary()
			f.CreatedBy = clip(s, 128)
			return err
		}
		return t.skip(typ, 1)
	})
	if err != nil {
		return nil, fmt.Errorf("parquet: footer: %w", err)
	}
	if f.Rows < 0 {
		return nil, fmt.Errorf("parquet: negative row count %d", f.Rows)
	}
	f.Columns = topLevel(schema)
	return f, nil
}

// topLevel names the root's children and their types.
func topLevel(schema []schemaElement) []Column {
	if len(schema) == 0 {
		return nil
	}
	var cols []Column
	i := 1
	for c := int64(0); c < schema[0].children && i < len(schema) && len(cols) < maxColumns; c++ {
		el := schema[i]
		cols = append(cols, Column{Name: clip(el.name, 256), Type: el.typeName()})
		i = skipSubtree(schema, i)
	}
	return cols
}

// skipSubtree returns the index after element i and its descendants.
func skipSubtree(schema []schemaElement, i int) int {
	pending := int64(1)
	for pending > 0 && i < len(schema) {
		pending += schema[i].children - 1
		i++
		if pending > int64(len(schema)) {
			return len(schema)
		}
	}
	return i
}

func (e schemaElement) typeName() string {
	if ct, ok := convertedTypes[e.converted]; ok {
		return ct
	}
	if e.logicalString {
		return "string"
	}
	if e.children > 0 || e.typ < 0 {
		return "struct"
	}
	if int(e.typ) < len(parquetTypes) {
		return parquetTypes[e.typ]
	}
	return "unknown"
}

func (t *thrift) schemaElement() (schemaElement, error) {
	el := schemaElement{typ: -1, converted: -1}
	err := t.structFields(1, func(id int16, typ byte) error {
		switch {
		case id == 1 && typ == tI32:
			v, err := t.varint()
			el.typ = zigzag(v)
			return err
		case id == 4 && typ == tBinary:
			s, err := t.binary()
			el.name = s
			return err
		case id == 5 && typ == tI32:
			v, err := t.varint()
			el.children = zigzag(v)
			if el.children < 0 || el.children > maxListLen {
				return fmt.Errorf("schema element with %d children", el.children)
			}
			return err
		case id == 6 && typ == tI32:
			v, err := t.varint()
			el.converted = zigzag(v)
			return err
		case id == 10 && typ == tStruct:
			// LogicalType is a union; field 1 is STRING.
			return t.structFields(2, func(lid int16, ltyp byte) error {
				if lid == 1 {
					el.logicalString = true
				}
				return t.skip(ltyp, 3)
			})
		}
		return t.skip(typ, 2)
	})
	return el, err
}

// Thrift compact protocol types.
const (
	tStop   = 0
	tTrue   = 1
	tFalse  = 2
	tByte   = 3
	tI16    = 4
	tI32    = 5
	tI64    = 6
	tDouble = 7
	tBinary = 8
	tList   = 9
	tSet    = 10
	tMap    = 11
	tStruct = 12
)

// thrift is a bounded reader of the thrift compact protocol over a byte
// slice: every length is checked against what is left, nesting is capped.
type thrift struct {
	b   []byte
	off int
}

var errShort = errors.New("truncated")

func (t *thrift) byte1() (byte, error) {
	if t.off >= len(t.b) {
		return 0, errShort
	}
	c := t.b[t.off]
	t.off++
	return c, nil
}

func (t *thrift) varint() (uint64, error) {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c, err := t.byte1()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("varint too long")
}

func zigzag(v uint64) int64 { return int64(v>>1) ^ -int64(v&1) }

func (t *thrift) binary() (string, error) {
	n, err := t.varint()
	if err != nil {
		return "", err
	}
	if n > uint64(len(t.b)-t.off) {
		return "", errShort
	}
	s := string(t.b[t.off : t.off+int(n)])
	t.off += int(n)
	return s, nil
}

// structFields calls fn for each field header until STOP; fn must consume
// the field's value.
func (t *thrift) structFields(depth int, fn func(id int16, typ byte) error) error {
	if depth > maxThriftDepth {
		return errors.New("structures nested too deep")
	}
	var last int16
	for {
		h, err := t.byte1()
		if err != nil {
			return err
		}
		typ := h & 0x0f
		if typ == tStop {
			return nil
		}
		id := last + int16(h>>4)
		if h>>4 == 0 {
			v, err := t.varint()
			if err != nil {
				return err
			}
			if v > math.MaxUint16 {
				return errors.New("field id out of range")
			}
			id = int16(zigzag(v))
		}
		last = id
		if err := fn(id, typ); err != nil {
			return err
		}
	}
}

// list reads a list or set header and calls fn once per element.
func (t *thrift) list(depth int, fn func(et byte) error) error {
	h, err := t.byte1()
	if err != nil {
		return err
	}
	n := uint64(h >> 4)
	if n == 15 {
		if n, err = t.varint(); err != nil {
			return err
		}
	}
	if n > maxListLen || n > uint64(len(t.b)-t.off) {
		return fmt.Errorf("list of %d elements cannot fit the footer", n)
	}
	for i := uint64(0); i < n; i++ {
		if err := fn(h & 0x0f); err != nil {
			return err
		}
	}
	return nil
}

// skip consumes one value of type typ.
func (t *thrift) skip(typ byte, depth int) error {
	if depth > maxThriftDepth {
		return errors.New("structures nested too deep")
	}
	switch typ {
	case tTrue, tFalse:
		return nil // in a struct, the value is in the type nibble
	case tByte:
		_, err := t.byte1()
		return err
	case tI16, tI32, tI64:
		_, err := t.varint()
		return err
	case tDouble:
		if len(t.b)-t.off < 8 {
			return errShort
		}
		t.off += 8
		return nil
	case tBinary:
		_, err := t.binary()
		return err
	case tList, tSet:
		return t.list(depth+1, func(et byte) error {
			if et == tTrue || et == tFalse {
				_, err := t.byte1() // list booleans take a byte each
				return err
			}
			return t.skip(et, depth+1)
		})
	case tMap:
		n, err := t.varint()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if n > maxListLen || n > uint64(len(t.b)-t.off) {
			return fmt.Errorf("map of %d entries cannot fit the footer", n)
		}
		kv, err := t.byte1()
		if err != nil {
			return err
		}
		for i := uint64(0); i < n; i++ {
			for _, et := range []byte{kv >> 4, kv & 0x0f} {
				if et == tTrue || et == tFalse {
					if _, err := t.byte1(); err != nil {
						return err
					}
					continue
				}
				if err := t.skip(et, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	case tStruct:
		return t.structFields(depth+1, func(_ int16, ft byte) error { return t.skip(ft, depth+1) })
	}
	return fmt.Errorf("unknown thrift type %d", typ)
}

func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > n {
		return s[:n]
	}
	return s
}
