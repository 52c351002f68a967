package modelfile

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
)

func zipOf(t testing.TB, names ...string) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("x"))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gguf(kv string) []byte {
	var b bytes.Buffer
	b.WriteString("GGUF")
	binary.Write(&b, binary.LittleEndian, uint32(3))
	binary.Write(&b, binary.LittleEndian, uint64(0))
	binary.Write(&b, binary.LittleEndian, uint64(1))
	binary.Write(&b, binary.LittleEndian, uint64(len(kv)))
	b.WriteString(kv)
	binary.Write(&b, binary.LittleEndian, uint32(8))
	b.WriteString("{{ x }}")
	return b.Bytes()
}

// legacyMagic starts every legacy torch.save file (pickle PROTO 2, LONG1
// of torch's magic number).
const legacyMagic = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"

func TestSniff(t *testing.T) {
	// Protocol 4 pickle of {"a": 1}.
	pickle := []byte("\x80\x04\x95\x0a\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94K\x01s.")
	onnxExt := append([]byte{0x08, 0x08, 0x12, 0x07}, []byte("pytorch:\x3a\x20\x0a\x08location\x12\x0aweights.bin")...)
	onnxPlain := append([]byte{0x08, 0x08, 0x12, 0x07}, []byte("pytorch:\x10\x01\x02\x03\x04\x05\x06\x07\x08")...)
	cases := []struct {
		name string
		data []byte
		want []Kind
	}{
		{"raw pickle", pickle, []Kind{Pickle}},
		{"pickle without STOP is not claimed", pickle[:len(pickle)-1], nil},
		{"legacy torch", append([]byte(legacyMagic), "\x2e\x80\x02}q\x00.rawstoragebytes"...), []Kind{TorchLegacy}},
		{"torch zip", zipOf(t, "model/data.pkl", "model/data/0", "model/version"), []Kind{TorchZip}},
		{"keras v3", zipOf(t, "metadata.json", "config.json", "model.weights.h5"), []Kind{KerasV3}},
		{"plain zip", zipOf(t, "readme.txt", "config.json"), nil},
		{"gguf with chat template", gguf("tokenizer.chat_template"), []Kind{GGUF, GGUFChatTemplate}},
		{"gguf without template", gguf("general.architecture"), []Kind{GGUF}},
		{"onnx with external data", onnxExt, []Kind{ONNXExternalData}},
		{"onnx without external data", onnxPlain, nil},
		{"text", []byte("hello world, this is text"), nil},
		{"tiny", []byte("PK"), nil},
		{"truncated zip", zipOf(t, "a/data.pkl")[:40], nil},
	}
	for _, c := range cases {
		got, err := Sniff(bytes.NewReader(c.data), int64(len(c.data)))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSniff_Zip64CentralDirectory(t *testing.T) {
	// 65536 entries force the zip64 end record (the 16-bit count overflows),
	// as large torch checkpoints have.
	names := make([]string, 0, 65536)
	for i := range 65535 {
		names = append(names, fmt.Sprintf("d/%d", i))
	}
	names = append(names, "archive/data.pkl")
	z := zipOf(t, names...)
	got, err := Sniff(bytes.NewReader(z), int64(len(z)))
	if err != nil || !slices.Equal(got, []Kind{TorchZip}) {
		t.Errorf("got %v %v", got, err)
	}
}

func TestSniff_GGUFTemplateAcrossChunkBoundary(t *testing.T) {
	pad := bytes.Repeat([]byte{0}, searchChunk-10)
	data := append(gguf("general.name"), pad...)
	data = append(data, "tokenizer.chat_template"...)
	got, _ := Sniff(bytes.NewReader(data), int64(len(data)))
	if !slices.Equal(got, []Kind{GGUF, GGUFChatTemplate}) {
		t.Errorf("got %v", got)
	}
}

func FuzzSniff(f *testing.F) {
	f.Add(zipOf(f, "archive/data.pkl"))
	f.Add(zipOf(f, "config.json", "metadata.json"))
	f.Add(gguf("tokenizer.chat_template"))
	f.Add([]byte(legacyMagic + "."))
	f.Fuzz(func(t *testing.T, b []byte) {
		Sniff(bytes.NewReader(b), int64(len(b)))
	})
}
