package correlate

import "github.com/aigis-dev/aigis/report"

// Kind is a kind of model file whose loading exercises an advisory.
type Kind string

const (
	// Pickle: a raw pickle, which torch.load unpickles.
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

var kinds = map[Kind]bool{Pickle: true, TorchZip: true, TorchLegacy: true, GGUF: true, GGUFChatTemplate: true, KerasV3: true, ONNXExternalData: true}

// KindsOf names the kinds of a file from what the scan engine made of
// it: its format and the facts its header states. It recognises nothing
// itself.
func KindsOf(a *report.Artifact) []Kind {
	m := a.Model
	if m == nil {
		m = &report.Model{}
	}
	switch a.Format {
	case "pickle":
		if m.LoadsPickle {
			return []Kind{Pickle}
		}
	case "pytorch-zip", "torchscript", "pt2", "torch-package":
		if m.LoadsPickle {
			return []Kind{TorchZip}
		}
	case "pytorch-legacy":
		return []Kind{TorchLegacy}
	case "gguf":
		if m.ChatTemplate {
			return []Kind{GGUF, GGUFChatTemplate}
		}
		return []Kind{GGUF}
	case "keras":
		return []Kind{KerasV3}
	case "onnx":
		if m.ExternalData {
			return []Kind{ONNXExternalData}
		}
	}
	return nil
}
