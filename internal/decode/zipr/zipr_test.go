package zipr

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"
)

func build(t testing.TB, comment string, entries ...[2]string) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, e := range entries {
		f, err := w.CreateHeader(&zip.FileHeader{Name: e[0], Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(e[1]))
	}
	if comment != "" {
		w.SetComment(comment)
	}
	w.Close()
	return b.Bytes()
}

func open(t *testing.T, b []byte) *Reader {
	t.Helper()
	z, err := Open(bytes.NewReader(b), int64(len(b)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func content(t *testing.T, e *Entry) string {
	t.Helper()
	r, err := e.Open()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReadsWhatTorchReads(t *testing.T) {
	z := open(t, build(t, "a comment", [2]string{"a/data.pkl", "hello"}, [2]string{"a/version", "3"}))
	if len(z.Entries) != 2 || z.Comment != "a comment" || z.Base != 0 || len(z.Anomalies) != 0 {
		t.Fatalf("%+v", z)
	}
	if got := content(t, z.Entries[0]); got != "hello" {
		t.Fatalf("content %q", got)
	}
}

func TestLocalNameMismatchIsTolerated(t *testing.T) {
	b := build(t, "", [2]string{"a/data.pkl", "payload"})
	// Rename the local header only (torch reads the central directory).
	i := bytes.Index(b, []byte("a/data.pkl"))
	copy(b[i:], "a/innocent")
	z := open(t, b)
	e := z.Entries[0]
	if e.Name != "a/data.pkl" || e.LocalName() != "a/innocent" || content(t, e) != "payload" {
		t.Fatalf("name %q local %q", e.Name, e.LocalName())
	}
}

func TestPrependedDataIsTheBase(t *testing.T) {
	b := append([]byte("#!/bin/sh\nexit 0\n"), build(t, "", [2]string{"x", "y"})...)
	z := open(t, b)
	if z.Base != 17 || len(z.Anomalies) != 1 || content(t, z.Entries[0]) != "y" {
		t.Fatalf("base %d anomalies %v", z.Base, z.Anomalies)
	}
}

func TestBadCRCIsTolerated(t *testing.T) {
	b := build(t, "", [2]string{"x", "y"})
	binary.LittleEndian.PutUint32(b[14:], 0xdeadbeef) // local header CRC
	z := open(t, b)
	if content(t, z.Entries[0]) != "y" {
		t.Fatal("content")
	}
}

func TestRejects(t *testing.T) {
	ok := build(t, "", [2]string{"x", "y"})
	for name, b := range map[string][]byte{
		"empty":     {},
		"text":      []byte("not a zip at all, no end record here"),
		"truncated": ok[:len(ok)-10],
	} {
		if _, err := Open(bytes.NewReader(b), int64(len(b)), Limits{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	many := build(t, "", [2]string{"a", ""}, [2]string{"b", ""}, [2]string{"c", ""})
	if _, err := Open(bytes.NewReader(many), int64(len(many)), Limits{MaxEntries: 2}); err == nil {
		t.Error("entry limit not enforced")
	}
}

func TestDataPastEndIsAnError(t *testing.T) {
	b := build(t, "", [2]string{"x", "yyyy"})
	z := open(t, b)
	z.Entries[0].CompressedSize = 1 << 40
	if _, err := z.Entries[0].Open(); err == nil {
		t.Fatal("oversized entry opened")
	}
}

func TestLocalHeaderIsExposed(t *testing.T) {
	b := build(t, "", [2]string{"a/data.pkl", "payload"})
	z := open(t, b)
	e := z.Entries[0]
	l, err := e.LocalHeader()
	if err != nil || l.Name != "a/data.pkl" || l.Method != Deflate || l.Flags&FlagDescriptor == 0 {
		t.Fatalf("%+v %v", l, err)
	}
	// Go's writer leaves CRC and sizes to a data descriptor: no mismatch.
	if d := e.HeaderMismatch(); d != nil || e.Overlaps() {
		t.Fatalf("mismatch %v overlaps %v", d, e.Overlaps())
	}
	// Say "stored" in the local header only.
	binary.LittleEndian.PutUint16(b[8:], Store)
	z = open(t, b)
	if d := z.Entries[0].HeaderMismatch(); len(d) != 1 || content(t, z.Entries[0]) != "payload" {
		t.Fatalf("mismatch %v", d)
	}
}

func TestEncryptedEntryIsReadAsPlaintext(t *testing.T) {
	b := build(t, "", [2]string{"x", "plain"})
	i := bytes.LastIndex(b, []byte("PK\x01\x02"))
	binary.LittleEndian.PutUint16(b[i+8:], FlagEncrypted|FlagDescriptor)
	z := open(t, b)
	e := z.Entries[0]
	if !e.Encrypted() {
		t.Fatal("flag not seen")
	}
	if _, err := e.Open(); err == nil {
		t.Fatal("Open reads an encrypted entry")
	}
	sec, _ := e.Section()
	r, err := e.Decompress(sec)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(r); string(got) != "plain" {
		t.Fatalf("%q", got)
	}
}

func TestTorchRefusals(t *testing.T) {
	for flags, want := range map[uint16]string{FlagPatched: "patch data", FlagMaskedLocal: "masked local headers"} {
		b := build(t, "", [2]string{"x", "y"})
		i := bytes.LastIndex(b, []byte("PK\x01\x02"))
		binary.LittleEndian.PutUint16(b[i+8:], flags)
		z := open(t, b)
		if len(z.Anomalies) != 1 || !strings.Contains(z.Anomalies[0], want) {
			t.Errorf("0x%x: %v", flags, z.Anomalies)
		}
	}
}

func FuzzOpen(f *testing.F) {
	f.Add(build(f, "c", [2]string{"a/data.pkl", "hello"}, [2]string{"b", "world"}))
	f.Add(append([]byte("junk"), build(f, "", [2]string{"x", "y"})...))
	f.Fuzz(func(t *testing.T, b []byte) {
		z, err := Open(bytes.NewReader(b), int64(len(b)), Limits{MaxEntries: 1000})
		if err != nil {
			return
		}
		for _, e := range z.Entries {
			e.LocalName()
			e.HeaderMismatch()
			e.Overlaps()
			if r, err := e.Open(); err == nil {
				io.Copy(io.Discard, io.LimitReader(r, 1<<20))
			}
		}
	})
}
