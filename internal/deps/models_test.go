package deps

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aigis-dev/aigis/internal/deps/correlate"
	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/pkl"
)

// The model kinds of a tree come from the scan engine: each file is
// named by its format and header facts, never by its name.
func TestModelKinds(t *testing.T) {
	legacy := []byte("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.")
	for _, p := range [][]byte{pkl.New(2).Int(1001).Stop().Bytes(), pkl.New(2).EmptyDict().Stop().Bytes(), pkl.New(2).EmptyDict().Stop().Bytes(), pkl.New(2).Mark().Raw('l').Stop().Bytes()} {
		legacy = append(legacy, p...)
	}
	ze := func(name string) testutil.ZipEntry { return testutil.ZipEntry{Name: name, Data: []byte("{}")} }
	relu := testutil.ONNXNode("Relu", "")
	bigZip := []testutil.ZipEntry{}
	for i := range 65535 {
		bigZip = append(bigZip, testutil.ZipEntry{Name: fmt.Sprintf("d/%d", i), Data: []byte("x")})
	}
	bigZip = append(bigZip, testutil.ZipEntry{Name: "archive/data.pkl", Data: pkl.New(2).EmptyDict().Stop().Bytes()})
	cases := []struct {
		name string
		data []byte
		want []correlate.Kind
	}{
		{"raw pickle", []byte("\x80\x04\x95\x0a\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94K\x01s."), []correlate.Kind{correlate.Pickle}},
		{"protocol 0 pickle", []byte("(dp0\nS'a'\np1\nI1\ns."), []correlate.Kind{correlate.Pickle}},
		{"legacy torch", legacy, []correlate.Kind{correlate.TorchLegacy}},
		{"torch zip", testutil.TorchZip(t, "model", testutil.TorchStateDict(1, 2), 1, 2), []correlate.Kind{correlate.TorchZip}},
		// 65536 entries force the zip64 end record, as large checkpoints have.
		{"torch zip64", testutil.Zip(t, bigZip...), []correlate.Kind{correlate.TorchZip}},
		{"keras v3", testutil.Zip(t, ze("metadata.json"), ze("config.json"), ze("model.weights.h5")), []correlate.Kind{correlate.KerasV3}},
		{"plain zip", testutil.Zip(t, ze("readme.txt"), ze("config.json")), nil},
		{"pickle in a plain zip", testutil.Zip(t, testutil.ZipEntry{Name: "x.pkl", Data: pkl.New(2).EmptyDict().Stop().Bytes()}), nil},
		{"truncated zip", testutil.TorchZip(t, "a", pkl.New(2).EmptyDict().Stop().Bytes(), 0, 0)[:40], nil},
		{"gguf with chat template", ggufWithTemplate(), []correlate.Kind{correlate.GGUF, correlate.GGUFChatTemplate}},
		{"gguf without template", testutil.GGUF([]testutil.GGUFKV{{Key: "general.architecture", Value: "llama"}}, nil, nil), []correlate.Kind{correlate.GGUF}},
		{"onnx with external data", testutil.ONNXModel([]testutil.PB{relu}, []testutil.PB{testutil.ONNXExternalTensor("w", "weights.bin", 0, 16)}), []correlate.Kind{correlate.ONNXExternalData}},
		{"onnx without external data", testutil.ONNXModel([]testutil.PB{relu}, nil), nil},
		{"text", []byte("hello world, this is text"), nil},
		{"tiny", []byte("\x80\x02."), nil},
	}
	for _, c := range cases {
		dir := t.TempDir()
		write(t, dir, "f", c.data)
		tr, err := walk(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		var got []correlate.Kind
		for k, files := range tr.models {
			if !slices.Equal(files, []string{filepath.Join(dir, "f")}) {
				t.Errorf("%s: %s files %v", c.name, k, files)
			}
			got = append(got, k)
		}
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}
