package keras_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

const dense = `{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4]}}, {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}`

const lambdaH5 = `{"class_name": "Functional", "config": {"layers": [{"class_name": "Dense", "config": {"name": "d"}}, {"class_name": "Model", "config": {"layers": [{"class_name": "Lambda", "config": {"name": "l", "function": ["4wEAAAAAAAAA", null, null], "function_type": "lambda", "module": "__main__"}}]}}]}}`

func kerasZip(t *testing.T, config string) []byte {
	return testutil.Zip(t,
		testutil.ZipEntry{Name: "metadata.json", Data: []byte(`{"keras_version": "3.6.0", "date_saved": "2025-01-01@00:00:00"}`)},
		testutil.ZipEntry{Name: "config.json", Data: []byte(config), Deflate: true},
		testutil.ZipEntry{Name: "model.weights.h5", Data: testutil.HDF5()})
}

func v3(layers string) string {
	return `{"module": "keras", "class_name": "Sequential", "config": {"name": "seq", "layers": [` + layers + `]}, "registered_name": null}`
}

func TestKerasH5(t *testing.T) {
	scantest.Run(t, []scantest.Case{
		{Name: "DenseFixedString", File: "m.h5", Data: testutil.HDF5(testutil.HDF5Attr{Name: "keras_version", Value: "2.15.0"}, testutil.HDF5Attr{Name: "model_config", Value: dense}), Verdict: report.Clean, Format: "keras-h5"},
		{Name: "DenseVarLenString", File: "m.h5", Data: testutil.HDF5(testutil.HDF5Attr{Name: "keras_version", Value: "2.15.0", VarLen: true}, testutil.HDF5Attr{Name: "model_config", Value: dense, VarLen: true}), Verdict: report.Clean, Format: "keras-h5"},
		{Name: "NestedLambda", File: "m.h5", Data: testutil.HDF5(testutil.HDF5Attr{Name: "model_config", Value: lambdaH5, VarLen: true}), Verdict: report.Malicious, Rules: []string{"keras-lambda"}},
		{Name: "LambdaUnderOtherName", File: "weights.bin", Data: testutil.HDF5(testutil.HDF5Attr{Name: "model_config", Value: lambdaH5}), Verdict: report.Malicious},
		{Name: "PlainHDF5Data", File: "data.h5", Data: testutil.HDF5(testutil.HDF5Attr{Name: "units", Value: "m"}), Verdict: report.Clean, Format: "hdf5"},
		{Name: "ConfigNotJSON", File: "m.h5", Data: testutil.HDF5(testutil.HDF5Attr{Name: "model_config", Value: "{nope"}), Verdict: report.Invalid},
		{Name: "Truncated", File: "m.h5", Data: testutil.HDF5(testutil.HDF5Attr{Name: "model_config", Value: dense, VarLen: true})[:150], Verdict: report.Invalid},
		{Name: "GarbageNamedH5", File: "m.h5", Data: []byte("garbage"), Verdict: report.Invalid},
	})
}

func TestKerasV3(t *testing.T) {
	denseV3 := `{"module": "keras.layers", "class_name": "Dense", "config": {"name": "d", "units": 2, "activation": {"module": "keras.activations", "class_name": "function", "config": "relu", "registered_name": null}}, "registered_name": null}`
	scantest.Run(t, []scantest.Case{
		{Name: "Dense", File: "m.keras", Data: kerasZip(t, v3(denseV3)), Verdict: report.Clean, Format: "keras"},
		{Name: "LambdaLayer", File: "m.keras", Data: kerasZip(t, v3(`{"module": "keras.layers", "class_name": "Lambda", "config": {"name": "l", "function": {"class_name": "__lambda__", "config": {"code": "YWJj", "defaults": null, "closure": null}}}, "registered_name": null}`)), Verdict: report.Malicious, Rules: []string{"keras-lambda"}},
		{Name: "OsSystemModule", File: "m.keras", Data: kerasZip(t, v3(`{"module": "os", "class_name": "function", "config": "system", "registered_name": null}`)), Verdict: report.Malicious, Rules: []string{"keras-dangerous-module"}},
		{Name: "BuiltinsExecDeep", File: "m.keras", Data: kerasZip(t, v3(`{"module": "keras.layers", "class_name": "Dense", "config": {"kernel_initializer": {"module": "builtins", "class_name": "function", "config": "exec", "registered_name": "exec"}}}`)), Verdict: report.Malicious},
		{Name: "GetFileBypass", File: "m.keras", Data: kerasZip(t, v3(`{"module": "keras.utils", "class_name": "function", "config": "get_file", "registered_name": null}`)), Verdict: report.Malicious, Rules: []string{"keras-dangerous-function"}},
		{Name: "EnableUnsafe", File: "m.keras", Data: kerasZip(t, v3(`{"module": "keras.config", "class_name": "function", "config": "enable_unsafe_deserialization", "registered_name": null}`)), Verdict: report.Malicious},
		{Name: "ThirdPartyModule", File: "m.keras", Data: kerasZip(t, v3(`{"module": "mylib.layers", "class_name": "Fancy", "config": {}, "registered_name": "mylib>Fancy"}`)), Verdict: report.Suspicious, Rules: []string{"keras-external-module"}},
		{Name: "CustomObject", File: "m.keras", Data: kerasZip(t, v3(`{"module": "keras.layers", "class_name": "Fancy", "config": {}, "registered_name": "Custom>Fancy"}`)), Verdict: report.Suspicious, Rules: []string{"keras-custom-object"}},
		{Name: "ConfigNotJSON", File: "m.keras", Data: kerasZip(t, "{"), Verdict: report.Invalid},
		{Name: "LambdaInStrippedArchive", File: "m.keras", Data: testutil.Zip(t, testutil.ZipEntry{Name: "config.json", Data: []byte(v3(`{"module": "keras.layers", "class_name": "Lambda", "config": {"name": "l", "function": {"class_name": "__lambda__", "config": {"code": "YWJj"}}}}`))}), Verdict: report.Malicious},
	})
}

// TestKerasH5DenseStorage: attributes in a fractal heap behind a v2
// B-tree name index, as HDF5 keeps them beyond 8 with libver="latest";
// HDF5 then ignores attribute messages left in the header.
func TestKerasH5DenseStorage(t *testing.T) {
	denseFile := func(attrs []testutil.HDF5Attr, shadow ...testutil.HDF5Attr) []byte {
		return testutil.HDF5Dense(testutil.HDF5DenseFile{Attrs: attrs, Shadow: shadow})
	}
	notes := func(extra ...testutil.HDF5Attr) []testutil.HDF5Attr {
		var a []testutil.HDF5Attr
		for i := 0; i < 12; i++ {
			a = append(a, testutil.HDF5Attr{Name: fmt.Sprintf("note_%02d", i), Value: "x"})
		}
		return append(a, extra...)
	}
	hugeLambda := strings.Replace(lambdaH5, `"Dense", "config": {"name": "d"}`, `"Dense", "config": {"name": "`+strings.Repeat("d", 6000)+`"}`, 1)
	scantest.Run(t, []scantest.Case{
		{Name: "DenseBenign", File: "m.h5", Data: denseFile(notes(testutil.HDF5Attr{Name: "keras_version", Value: "2.15.0"}, testutil.HDF5Attr{Name: "model_config", Value: dense})), Verdict: report.Clean, Format: "keras-h5"},
		{Name: "DenseLambda", File: "m.h5", Data: denseFile(notes(testutil.HDF5Attr{Name: "model_config", Value: lambdaH5})), Verdict: report.Malicious, Rules: []string{"keras-lambda"}},
		{Name: "DenseLambdaHugeObject", File: "m.h5", Data: denseFile(notes(testutil.HDF5Attr{Name: "model_config", Value: hugeLambda})), Verdict: report.Malicious, Rules: []string{"keras-lambda"}},
		{Name: "BenignHeaderShadowsDenseLambda", File: "m.h5", Data: denseFile(notes(testutil.HDF5Attr{Name: "model_config", Value: lambdaH5}), testutil.HDF5Attr{Name: "model_config", Value: dense}),
			Verdict: report.Malicious, Rules: []string{"keras-lambda", "keras-shadowed-attributes"}},
		{Name: "LambdaInShadowedHeaderIsNotLoaded", File: "m.h5", Data: denseFile(notes(testutil.HDF5Attr{Name: "model_config", Value: dense}), testutil.HDF5Attr{Name: "model_config", Value: lambdaH5}),
			Verdict: report.Suspicious, Rules: []string{"keras-shadowed-attributes"}},
		{Name: "DenseCorrupt", File: "m.h5", Data: testutil.HDF5Dense(testutil.HDF5DenseFile{Attrs: notes(testutil.HDF5Attr{Name: "model_config", Value: lambdaH5}),
			Corrupt: func(b []byte, l testutil.HDF5DenseLayout) { b[l.DirectBlock+40] ^= 0x20 }}), Verdict: report.Invalid},
	})
}

// TestKerasConfigAsPythonReadsIt: Keras reads the configuration with
// Python's json, which accepts NaN and Infinity, keeps the last of
// duplicate keys, and (for config.json, read as bytes) decodes a BOM,
// UTF-16 and UTF-32.
func TestKerasConfigAsPythonReadsIt(t *testing.T) {
	lambda := `{"module": "keras.layers", "class_name": "Lambda", "config": {"name": "l", "function": {"class_name": "__lambda__", "config": {"code": "YWJj"}}}, "registered_name": null}`
	withNaN := `{"module": "keras.layers", "class_name": "Dense", "config": {"name": "d", "units": 2, "bias_initializer": {"class_name": "Constant", "config": {"value": NaN}}, "kernel_regularizer": {"class_name": "L2", "config": {"l2": -Infinity}}}}`
	utf16le := func(s string) []byte {
		b := []byte{0xff, 0xfe}
		for _, r := range s {
			b = append(b, byte(r), byte(r>>8))
		}
		return b
	}
	scantest.Run(t, []scantest.Case{
		{Name: "NaNAndInfinityAreNumbers", File: "m.keras", Data: kerasZip(t, v3(withNaN)), Verdict: report.Clean},
		{Name: "LambdaBesideNaN", File: "m.keras", Data: kerasZip(t, v3(withNaN+", "+lambda)), Verdict: report.Malicious, Rules: []string{"keras-lambda"}},
		{Name: "DuplicateKeyLastWinsLambda", File: "m.keras", Data: kerasZip(t, v3(`{"class_name": "Dense", "class_name": "Lambda", "config": {"name": "l", "function": ["YWJj", null, null]}}`)), Verdict: report.Malicious, Rules: []string{"keras-lambda"}},
		{Name: "DuplicateKeyLastWinsDense", File: "m.keras", Data: kerasZip(t, v3(`{"class_name": "Lambda", "class_name": "Dense", "config": {"name": "d"}}`)), Verdict: report.Clean},
		{Name: "BOMConfigJSON", File: "m.keras", Data: kerasZip(t, "\ufeff"+v3(lambda)), Verdict: report.Malicious, Rules: []string{"keras-lambda"}},
		{Name: "UTF16ConfigJSON", File: "m.keras", Data: testutil.Zip(t, testutil.ZipEntry{Name: "config.json", Data: utf16le(v3(lambda))}, testutil.ZipEntry{Name: "metadata.json", Data: []byte("{}")}), Verdict: report.Malicious, Rules: []string{"keras-lambda"}},
		{Name: "BOMInH5AttributeRefused", File: "m.h5", Data: testutil.HDF5(testutil.HDF5Attr{Name: "model_config", Value: "\ufeff" + dense, VarLen: true}), Verdict: report.Invalid, Rules: []string{"keras-bad-config"}},
		{Name: "NotUTF8Refused", File: "m.keras", Data: kerasZip(t, v3(`{"class_name": "Dense", "config": {"name": "\xff"}}`)), Verdict: report.Invalid},
	})
}

// TestKerasFileReadingLayers: layers that open a file or URL named in
// their configuration when the model is loaded.
func TestKerasFileReadingLayers(t *testing.T) {
	layer := func(class, key, value string) string {
		return `{"module": "keras.layers", "class_name": "` + class + `", "config": {"name": "x", "` + key + `": ` + value + `}, "registered_name": null}`
	}
	scantest.Run(t, []scantest.Case{
		{Name: "StringLookupRelativeFile", File: "m.keras", Data: kerasZip(t, v3(layer("StringLookup", "vocabulary", `"vocab.txt"`))), Verdict: report.Suspicious, Rules: []string{"keras-file-reference"}},
		{Name: "StringLookupListIsData", File: "m.keras", Data: kerasZip(t, v3(layer("StringLookup", "vocabulary", `["a", "b"]`))), Verdict: report.Clean},
		{Name: "IntegerLookupAbsolute", File: "m.keras", Data: kerasZip(t, v3(layer("IntegerLookup", "vocabulary", `"/etc/passwd"`))), Verdict: report.Malicious, Rules: []string{"keras-file-reference-escape"}},
		{Name: "TextVectorizationTraversal", File: "m.h5", Data: testutil.HDF5(testutil.HDF5Attr{Name: "model_config", Value: `{"class_name": "Sequential", "config": {"layers": [` + `{"class_name": "TextVectorization", "config": {"name": "t", "vocabulary": "../../home/u/.aws/credentials"}}` + `]}}`, VarLen: true}), Verdict: report.Malicious, Rules: []string{"keras-file-reference-escape"}},
		{Name: "TextVectorizationURL", File: "m.keras", Data: kerasZip(t, v3(layer("TextVectorization", "vocabulary", `"gs://bucket/vocab.txt"`))), Verdict: report.Malicious, InMsg: "is a URL"},
		{Name: "TFSMLayerPath", File: "m.keras", Data: kerasZip(t, v3(layer("TFSMLayer", "filepath", `"~/models/evil"`))), Verdict: report.Malicious, Rules: []string{"keras-file-reference-escape"}},
		{Name: "HubKerasLayerURL", File: "m.h5", Data: testutil.HDF5(testutil.HDF5Attr{Name: "model_config", Value: `{"class_name": "Sequential", "config": {"layers": [{"class_name": "KerasLayer", "config": {"name": "h", "handle": "https://tfhub.dev/x/y/1"}}]}}`}), Verdict: report.Malicious, Rules: []string{"keras-file-reference-escape"}},
		{Name: "HubTokenizerMerges", File: "m.keras", Data: kerasZip(t, v3(`{"module": "keras_hub.src.models.gpt2.gpt2_tokenizer", "class_name": "GPT2Tokenizer", "config": {"name": "tok", "vocabulary": "vocab.json", "merges": "C:\\secrets\\m.txt"}, "registered_name": "keras_hub>GPT2Tokenizer"}`)), Verdict: report.Malicious, Rules: []string{"keras-file-reference", "keras-file-reference-escape"}},
	})
}

func FuzzKerasH5(f *testing.F) {
	f.Add(testutil.HDF5(testutil.HDF5Attr{Name: "model_config", Value: lambdaH5, VarLen: true}, testutil.HDF5Attr{Name: "keras_version", Value: "2"}))
	f.Add(testutil.HDF5Dense(testutil.HDF5DenseFile{Attrs: []testutil.HDF5Attr{{Name: "model_config", Value: lambdaH5}, {Name: "pad", Value: strings.Repeat("p", 4200)}},
		Shadow: []testutil.HDF5Attr{{Name: "model_config", Value: dense}}}))
	seeds, _ := filepath.Glob("testdata/*.h5")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) { scantest.Fuzz(t, b, "m.h5") })
}

// Files written by h5py (testdata/gen.py): superblock 0 and, with
// libver="latest", superblock 3 with version-2 object headers.
func TestKerasH5FromH5py(t *testing.T) {
	cases := []struct {
		file    string
		verdict report.Verdict
	}{
		{"dense_v0.h5", report.Clean},
		{"dense_latest.h5", report.Clean},
		{"plain_data.h5", report.Clean},
		{"lambda_v0.h5", report.Malicious},
		{"lambda_latest.h5", report.Malicious},
		{"lambda_fixed_bytes.h5", report.Malicious},
		{"lambda_dense_storage.h5", report.Malicious}, // attributes in a fractal heap, read through the name index
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			if a := scantest.Bytes(t, c.file, b); a.Verdict != c.verdict {
				t.Errorf("verdict %s, want %s%s", a.Verdict, c.verdict, scantest.Dump(a))
			}
		})
	}
}
