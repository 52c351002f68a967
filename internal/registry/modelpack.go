package registry

import (
	"encoding/json"
	"path"
	"strings"
)

// ModelPack layer media types for raw (untarred) files.
const (
	ModelPackWeightRaw       = "application/vnd.cncf.model.weight.v1.raw"
	ModelPackWeightConfigRaw = "application/vnd.cncf.model.weight.config.v1.raw"
	ModelPackDocRaw          = "application/vnd.cncf.model.doc.v1.raw"
	ModelPackCodeRaw         = "application/vnd.cncf.model.code.v1.raw"
	ModelPackDatasetRaw      = "application/vnd.cncf.model.dataset.v1.raw"
)

var weightExts = map[string]bool{
	".safetensors": true, ".bin": true, ".pt": true, ".pth": true, ".gguf": true, ".ggml": true, ".onnx": true,
	".h5": true, ".hdf5": true, ".keras": true, ".ckpt": true, ".pkl": true, ".pickle": true, ".joblib": true,
	".npy": true, ".npz": true, ".msgpack": true, ".tflite": true, ".pb": true, ".mlmodel": true, ".pdparams": true,
	".llamafile": true, ".model": true, ".params": true,
}

var codeExts = map[string]bool{".py": true, ".sh": true, ".ipynb": true, ".js": true, ".go": true, ".rs": true, ".c": true, ".cpp": true, ".cu": true}

var dataExts = map[string]bool{".csv": true, ".tsv": true, ".parquet": true, ".arrow": true, ".jsonl": true}

// ModelPackLayerType picks a raw layer's media type from its path: weights
// by extension, code, datasets, docs (README, LICENSE, markdown), and the
// rest (config.json, tokenizers, YAML) as weight configuration.
func ModelPackLayerType(p string) string {
	base := strings.ToLower(path.Base(p))
	ext := path.Ext(base)
	switch {
	case weightExts[ext]:
		return ModelPackWeightRaw
	case codeExts[ext] || base == "requirements.txt" || base == "pyproject.toml" || base == "environment.yml":
		return ModelPackCodeRaw
	case dataExts[ext]:
		return ModelPackDatasetRaw
	case ext == ".md" || ext == ".rst" || strings.HasPrefix(base, "readme") || strings.HasPrefix(base, "license") ||
		strings.HasPrefix(base, "notice") || ext == ".pdf" || ext == ".txt" && base != "vocab.txt" && base != "merges.txt":
		return ModelPackDocRaw
	}
	return ModelPackWeightConfigRaw
}

// ModelPackConfig is the config blob of a ModelPack artifact.
type ModelPackConfig struct {
	Descriptor ModelPackDescriptor `json:"descriptor"`
	Config     ModelPackModel      `json:"config"`
	ModelFS    ModelPackFS         `json:"modelfs"`
}

// ModelPackDescriptor names a model.
type ModelPackDescriptor struct {
	CreatedAt string   `json:"createdAt,omitempty"`
	Name      string   `json:"name,omitempty"`
	Version   string   `json:"version,omitempty"`
	Family    string   `json:"family,omitempty"`
	Licenses  []string `json:"licenses,omitempty"`
	Authors   []string `json:"authors,omitempty"`
}

// ModelPackModel describes the model.
type ModelPackModel struct {
	Architecture string `json:"architecture,omitempty"`
	Format       string `json:"format,omitempty"`
	ParamSize    string `json:"paramSize,omitempty"`
	Precision    string `json:"precision,omitempty"`
	Quantization string `json:"quantization,omitempty"`
}

// ModelPackFS lists the layers' uncompressed digests.
type ModelPackFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diffIds"`
}

// ModelPackManifest builds the manifest of a ModelPack artifact whose
// config and layers are already described.
func ModelPackManifest(config Descriptor, layers []Descriptor, annotations map[string]string) ([]byte, error) {
	return json.Marshal(ManifestDoc{
		SchemaVersion: 2, MediaType: MediaTypeImageManifest, ArtifactType: ModelPackArtifactType,
		Config: &config, Layers: layers, Annotations: annotations,
	})
}
