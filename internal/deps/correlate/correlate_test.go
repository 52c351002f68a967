package correlate

import (
	"testing"

	"github.com/aigis-dev/aigis/report"
)

func TestFind(t *testing.T) {
	models := map[Kind][]string{
		TorchZip:         {"models/b.pt", "models/a.pt"},
		Pickle:           {"models/a.pkl"},
		GGUFChatTemplate: {"llm/q4.gguf"},
		KerasV3:          {"m.keras"},
	}
	cases := []struct {
		pkg, version string
		want         string // rule id, "" for none
		files        int
	}{
		{"torch", "1.13.0", "torch-load-pickle", 3},
		{"Torch", "2.5.1+cu121", "torch-load-pickle", 3},
		{"torch", "2.6.0", "", 0},
		{"torch", "2.6.0+cu124", "", 0},
		{"llama_cpp_python", "0.2.30", "llama-cpp-python-chat-template", 1},
		{"llama-cpp-python", "0.2.29", "", 0},
		{"llama-cpp-python", "0.2.72", "", 0},
		{"keras", "3.8.0", "keras-safe-mode-bypass", 1},
		{"keras", "2.15.0", "", 0}, // Keras 2 has no .keras v3 loader
		{"keras", "3.9.0", "", 0},
		{"onnx", "1.12.0", "", 0}, // affected, but no ONNX external data here
	}
	for _, c := range cases {
		hits := Find(c.pkg, c.version, models)
		got, files := "", 0
		if len(hits) > 0 {
			got, files = hits[0].ID, len(hits[0].Files)
		}
		if got != c.want || files != c.files || len(hits) > 1 {
			t.Errorf("%s %s: got %q with %d files (%d hits), want %q with %d", c.pkg, c.version, got, files, len(hits), c.want, c.files)
		}
	}
}

func TestRulesAreComplete(t *testing.T) {
	for _, r := range Rules() {
		if len(r.Advisories) == 0 || r.Severity < report.SeverityHigh {
			t.Errorf("%s: advisories %v severity %v", r.ID, r.Advisories, r.Severity)
		}
	}
}
