// Package list names every format analyser, in match order. Adding a
// format is a new package plus one line here.
package list

import (
	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/analyzer/archive"
	"github.com/aigis-dev/aigis/analyzer/compress"
	"github.com/aigis-dev/aigis/analyzer/datafile"
	"github.com/aigis-dev/aigis/analyzer/gguf"
	"github.com/aigis-dev/aigis/analyzer/hfrepo"
	"github.com/aigis-dev/aigis/analyzer/keras"
	"github.com/aigis-dev/aigis/analyzer/numpy"
	"github.com/aigis-dev/aigis/analyzer/onnx"
	"github.com/aigis-dev/aigis/analyzer/pickle"
	"github.com/aigis-dev/aigis/analyzer/safetensors"
	"github.com/aigis-dev/aigis/analyzer/tensorflow"
	"github.com/aigis-dev/aigis/analyzer/torch"
)

// All returns the analysers in the order the engine offers inputs to them:
// specific magic numbers first, weak ones (protocol-0 pickle, zlib) last.
func All() []analyzer.Analyzer {
	return []analyzer.Analyzer{
		torch.Legacy{},
		numpy.NPY{},
		safetensors.Analyzer{},
		gguf.Analyzer{},
		onnx.Analyzer{},
		keras.H5{},
		tensorflow.TFLite{},
		tensorflow.SavedModel{},
		archive.Zip{Layouts: []archive.ZipLayout{
			torch.ZipLayout{},
			numpy.NPZ{},
			keras.Zip{},
		}},
		archive.Tar{},
		archive.SevenZip{},
		pickle.Analyzer{},
		compress.Analyzer{},
		datafile.Analyzer{}, // data formats that share model extensions
		hfrepo.Config{},     // any text: last
		// Recognised by reference, offered only what nothing matched.
		onnx.ExternalData{},
	}
}

// Dirs returns the directory-layout analysers, offered every walked
// directory.
func Dirs() []analyzer.DirAnalyzer {
	return []analyzer.DirAnalyzer{hfrepo.Repo{}}
}
