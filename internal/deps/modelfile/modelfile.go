// Package modelfile tells, from a file's content, which kinds of model file
// it is — only the few cheap facts that make a dependency advisory
// exercisable (a pickle checkpoint for torch.load, a GGUF chat template for
// llama-cpp-python, a Keras v3 archive, ONNX external data).
//
// It is deliberately small: it reads magic bytes (through the scan
// analysers' Match where that is as cheap), a zip central directory
// (through internal/zipr) and a bounded window of a GGUF or ONNX header,
// nothing more. It must never be mistaken for the analysers: it does not
// judge whether a file is safe, never unpickles,
// never renders a template and never follows external-data paths.
package modelfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/analyzer/onnx"
	"github.com/aigis-dev/aigis/analyzer/torch"
	"github.com/aigis-dev/aigis/internal/decode/zipr"
)

// Kind is one fact about a model file.
type Kind string

const (
	// Pickle: a raw pickle (protocol 2 or later).
	Pickle Kind = "pickle"
	// TorchZip: a torch.save zip archive (or TorchScript/.pt2) with pickle members.
	TorchZip Kind = "torch-zip"
	// TorchLegacy: a pre-1.6 torch.save file (consecutive pickles).
	TorchLegacy Kind = "torch-legacy"
	// GGUF: a GGUF model file.
	GGUF Kind = "gguf"
	// GGUFChatTemplate: a GGUF file whose header carries tokenizer.chat_template.
	GGUFChatTemplate Kind = "gguf-chat-template"
	// KerasV3: a Keras 3 .keras archive (zip with config.json).
	KerasV3 Kind = "keras-v3"
	// ONNXExternalData: an ONNX model whose tensors name external data files.
	ONNXExternalData Kind = "onnx-external-data"
)

// Bounds.
const (
	headSize      = 4096
	maxCentralDir = 16 << 20
	maxZipEntries = 100000
	ggufWindow    = 64 << 20 // chat templates sit after the vocabulary
	onnxWindow    = 64 << 20
	searchChunk   = 1 << 20
)

// Sniff returns the kinds of r (size bytes long); none for anything else.
func Sniff(r io.ReaderAt, size int64) ([]Kind, error) {
	if size < 8 {
		return nil, nil
	}
	head := make([]byte, min(size, headSize))
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	// Legacy torch and ONNX are recognised by the scan analysers' own
	// Match; zip, GGUF and pickle stay prefix checks because the
	// analysers accept more there (spanned zips, protocol-0 pickles by
	// trial parse) than a cheap dependency correlation should claim.
	sn := &analyzer.Sniff{Head: head, Size: size}
	switch {
	case torch.Legacy{}.Match(sn):
		return []Kind{TorchLegacy}, nil
	case len(head) >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5:
		// A pickle ends with STOP ('.').
		last := make([]byte, 1)
		if _, err := r.ReadAt(last, size-1); err != nil {
			return nil, err
		}
		if last[0] == '.' {
			return []Kind{Pickle}, nil
		}
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		names, err := zipNames(r, size)
		if err != nil {
			return nil, nil // a broken zip is the scan verb's business
		}
		return zipKinds(names), nil
	case bytes.HasPrefix(head, []byte("GGUF")):
		ver := binary.LittleEndian.Uint32(head[4:8])
		if ver < 1 || ver > 3 {
			return nil, nil
		}
		found, err := contains(r, size, ggufWindow, []byte("tokenizer.chat_template"))
		if err != nil {
			return nil, err
		}
		if found {
			return []Kind{GGUF, GGUFChatTemplate}, nil
		}
		return []Kind{GGUF}, nil
	case onnx.Analyzer{}.Match(sn):
		// TensorProto.external_data entries are StringStringEntryProto
		// {key: "location", value: path}: field 1, length 8, "location".
		found, err := contains(r, size, onnxWindow, []byte("\x0a\x08location\x12"))
		if err != nil {
			return nil, err
		}
		if found {
			return []Kind{ONNXExternalData}, nil
		}
	}
	return nil, nil
}

func zipKinds(names []string) []Kind {
	hasPkl, hasKerasConfig, hasKerasWeights := false, false, false
	for _, n := range names {
		switch {
		case strings.HasSuffix(n, ".pkl"):
			hasPkl = true
		case n == "config.json":
			hasKerasConfig = true
		case n == "model.weights.h5" || n == "metadata.json":
			hasKerasWeights = true
		}
	}
	var k []Kind
	if hasPkl {
		k = append(k, TorchZip)
	}
	if hasKerasConfig && hasKerasWeights {
		k = append(k, KerasV3)
	}
	return k
}

// contains searches the first window bytes for needle, in chunks with
// overlap so a match across a chunk boundary is found.
func contains(r io.ReaderAt, size, window int64, needle []byte) (bool, error) {
	end := min(size, window)
	buf := make([]byte, searchChunk+len(needle))
	for off := int64(0); off < end; off += searchChunk {
		n := min(int64(len(buf)), end-off)
		got, err := r.ReadAt(buf[:n], off)
		if err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		if bytes.Contains(buf[:got], needle) {
			return true, nil
		}
	}
	return false, nil
}

// zipNames reads member names from the central directory with the
// project's tolerant, bounded zip reader (zip64 included).
func zipNames(r io.ReaderAt, size int64) ([]string, error) {
	z, err := zipr.Open(r, size, zipr.Limits{MaxEntries: maxZipEntries, MaxCDSize: maxCentralDir})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(z.Entries))
	for _, e := range z.Entries {
		names = append(names, e.Name)
	}
	return names, nil
}
