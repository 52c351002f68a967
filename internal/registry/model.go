package registry

import (
	"context"
	"encoding/json"
	"io"
	"strings"

	"github.com/aigis-dev/aigis/internal/registry/store"
)

// Config and layer media types of the model artifacts the registry reads.
const (
	ModelPackArtifactType = "application/vnd.cncf.model.manifest.v1+json"
	ModelPackConfigType   = "application/vnd.cncf.model.config.v1+json"
	KitOpsConfig          = "application/vnd.kitops.modelkit.config.v1+json"
	// FilepathAnnotation names a layer's file in ModelPack artifacts.
	FilepathAnnotation = "org.cncf.model.filepath"
	// ORASTitleAnnotation names a layer's file in oras artifacts.
	ORASTitleAnnotation = "org.opencontainers.image.title"
)

// ModelKind names the kind of artifact from its types.
func ModelKind(artifactType, configType string, layers []Descriptor) string {
	switch {
	case artifactType == ModelPackArtifactType || configType == ModelPackConfigType ||
		strings.HasPrefix(configType, "application/vnd.cncf.model.") || strings.HasPrefix(configType, "application/vnd.cnai.model."):
		return "modelpack"
	case configType == KitOpsConfig || strings.HasPrefix(configType, "application/vnd.kitops."):
		return "kitops"
	case strings.HasPrefix(configType, "application/vnd.docker.ai."):
		return "docker-model"
	}
	for _, l := range layers {
		if strings.HasPrefix(l.MediaType, "application/vnd.cncf.model.") {
			return "modelpack"
		}
		if strings.HasPrefix(l.MediaType, "application/vnd.kitops.") {
			return "kitops"
		}
	}
	if configType == MediaTypeImageManifest || strings.HasPrefix(configType, "application/vnd.oci.image.config") ||
		configType == "application/vnd.docker.container.image.v1+json" {
		return "image"
	}
	return "artifact"
}

// ModelInfo is what the registry lists about a model version.
type ModelInfo struct {
	Kind         string            `json:"kind"`
	Name         string            `json:"name,omitempty"`
	Version      string            `json:"version,omitempty"`
	Family       string            `json:"family,omitempty"`
	Architecture string            `json:"architecture,omitempty"`
	Format       string            `json:"format,omitempty"`
	ParamSize    string            `json:"param_size,omitempty"`
	Precision    string            `json:"precision,omitempty"`
	Quantization string            `json:"quantization,omitempty"`
	Licenses     []string          `json:"licenses,omitempty"`
	Authors      []string          `json:"authors,omitempty"`
	Files        []ModelFile       `json:"files,omitempty"`
	Size         int64             `json:"size"`
	Extra        map[string]string `json:"extra,omitempty"`
}

// ModelFile is one layer and the path it unpacks to.
type ModelFile struct {
	Path      string `json:"path,omitempty"`
	MediaType string `json:"media_type"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// maxConfig bounds the config blob read for metadata.
const maxConfig = 1 << 20

// modelInfo reads a version's model metadata from its manifest and config.
func (s *Server) modelInfo(ctx context.Context, m *store.Manifest) *ModelInfo {
	var doc ManifestDoc
	if json.Unmarshal(m.Content, &doc) != nil {
		return nil
	}
	cfgType := ""
	if doc.Config != nil {
		cfgType = doc.Config.MediaType
	}
	info := &ModelInfo{Kind: ModelKind(doc.ArtifactType, cfgType, doc.Layers)}
	for _, l := range doc.Layers {
		p := l.Annotations[FilepathAnnotation]
		if p == "" {
			p = l.Annotations[ORASTitleAnnotation]
		}
		info.Files = append(info.Files, ModelFile{Path: p, MediaType: l.MediaType, Digest: l.Digest, Size: l.Size})
		info.Size += l.Size
	}
	if doc.Config == nil || doc.Config.Size > maxConfig || (info.Kind != "modelpack" && info.Kind != "kitops") {
		return info
	}
	b, err := s.o.Blobs.Open(ctx, doc.Config.Digest)
	if err != nil {
		return info
	}
	data, err := io.ReadAll(io.LimitReader(b, maxConfig))
	b.Close()
	if err != nil {
		return info
	}
	switch info.Kind {
	case "modelpack":
		var c struct {
			Descriptor struct {
				Name     string   `json:"name"`
				Version  string   `json:"version"`
				Family   string   `json:"family"`
				Licenses []string `json:"licenses"`
				Authors  []string `json:"authors"`
			} `json:"descriptor"`
			Config struct {
				Architecture string `json:"architecture"`
				Format       string `json:"format"`
				ParamSize    string `json:"paramSize"`
				Precision    string `json:"precision"`
				Quantization string `json:"quantization"`
			} `json:"config"`
		}
		if json.Unmarshal(data, &c) == nil {
			info.Name, info.Version, info.Family = c.Descriptor.Name, c.Descriptor.Version, c.Descriptor.Family
			info.Licenses, info.Authors = c.Descriptor.Licenses, c.Descriptor.Authors
			info.Architecture, info.Format, info.ParamSize = c.Config.Architecture, c.Config.Format, c.Config.ParamSize
			info.Precision, info.Quantization = c.Config.Precision, c.Config.Quantization
		}
	case "kitops":
		var c struct {
			Package struct {
				Name        string   `json:"name"`
				Version     string   `json:"version"`
				License     string   `json:"license"`
				Authors     []string `json:"authors"`
				Description string   `json:"description"`
			} `json:"package"`
			Model struct {
				Name      string `json:"name"`
				Version   string `json:"version"`
				Framework string `json:"framework"`
				License   string `json:"license"`
				Path      string `json:"path"`
			} `json:"model"`
		}
		if json.Unmarshal(data, &c) == nil {
			info.Name, info.Version, info.Authors = c.Package.Name, c.Package.Version, c.Package.Authors
			if c.Model.Name != "" && info.Name == "" {
				info.Name = c.Model.Name
			}
			if c.Model.Version != "" && info.Version == "" {
				info.Version = c.Model.Version
			}
			info.Format = c.Model.Framework
			for _, l := range []string{c.Package.License, c.Model.License} {
				if l != "" {
					info.Licenses = append(info.Licenses, l)
				}
			}
		}
	}
	return info
}
