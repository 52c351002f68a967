package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/aigis-dev/aigis/internal/bounded"
	"github.com/aigis-dev/aigis/internal/jsonerr"
)

// Media types and annotations the gate reads (docs/registry.md, "Gates
// and policy").
const (
	MediaTypeImageManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeImageIndex    = "application/vnd.oci.image.index.v1+json"
	MediaTypeEmpty         = "application/vnd.oci.empty.v1+json"

	// ArtifactTypeModelPack is CNCF ModelPack's artifactType;
	// ArtifactTypeModelPackLegacy its earlier CNAI name.
	ArtifactTypeModelPack       = "application/vnd.cncf.model.manifest.v1+json"
	ArtifactTypeModelPackLegacy = "application/vnd.cnai.model.manifest.v1+json"
	MediaTypeModelPackConfig    = "application/vnd.cncf.model.config.v1+json"
	mediaTypeModelPackConfigOld = "application/vnd.cnai.model.config.v1+json"
	// MediaTypeKitConfig is a KitOps ModelKit's config: the Kitfile as JSON.
	MediaTypeKitConfig = "application/vnd.kitops.modelkit.config.v1+json"
	// MediaTypeSigstoreBundle is the artifactType of an OMS (Sigstore)
	// bundle attached as a referrer, and the media type of its layer.
	MediaTypeSigstoreBundle = "application/vnd.dev.sigstore.bundle.v0.3+json"

	annotationFilepath       = "org.cncf.model.filepath"
	annotationFilepathLegacy = "org.cnai.model.filepath"
	annotationTitle          = "org.opencontainers.image.title"
	annotationOrasUnpack     = "io.deis.oras.content.unpack"
)

// Packings of a layer.
const (
	PackingRaw     = "raw"
	PackingTar     = "tar"
	PackingTarGzip = "tar+gzip"
	PackingTarZstd = "tar+zstd"
)

// Kinds of artifact.
const (
	KindModelPack = "modelpack"
	KindKitOps    = "kitops"
	KindOCI       = "oci" // a plain artifact (oras push): files named by org.opencontainers.image.title
	KindIndex     = "index"
)

// descriptor is an OCI content descriptor.
type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	URLs         []string          `json:"urls,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// ociManifest is an image manifest or an image index.
type ociManifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *descriptor       `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Manifests     []descriptor      `json:"manifests"`
	Subject       *descriptor       `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

// layer is one layer as the gate understands it.
type layer struct {
	Index int
	Desc  descriptor
	// Role is the ModelPack kind (weight, weight.config, doc, code,
	// dataset), the KitOps kind (model, modelpart, dataset, code, docs,
	// prompts), "file" for a plain artifact's layer, or "signature" for
	// a layer that is an OMS bundle.
	Role    string
	Packing string
	// Path is the declared file path (the file for raw layers; the file
	// or directory every member must lie in for tar layers); "" when the
	// format declares none (KitOps tar layers).
	Path string
}

// parsed is a manifest the gate can work with.
type parsed struct {
	Kind     string
	Manifest ociManifest
	Layers   []layer
}

var digestRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$`) })

// ValidDigest reports whether d is a sha256 or sha512 digest as OCI writes
// them (lower-case hex of the right length).
func ValidDigest(d string) bool { return digestRE().MatchString(d) }

var (
	modelPackLayerRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^application/vnd\.(cncf|cnai)\.model\.(weight|weight\.config|doc|code|dataset)\.v1\.(raw|tar|tar\+gzip|tar\+zstd)$`)
	})
	kitLayerRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^application/vnd\.kitops\.modelkit\.([a-z]+)\.v1\.tar(\+gzip|\+zstd)?$`)
	})
)

// parseManifest parses and checks a pushed manifest (or index) within lim.
// Every error is a reason the gate fails.
func parseManifest(raw []byte, mediaType string, lim Limits) (*parsed, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("the manifest is empty")
	}
	if int64(len(raw)) > lim.ManifestBytes {
		return nil, fmt.Errorf("the manifest is %d bytes, more than the %d-byte limit", len(raw), lim.ManifestBytes)
	}
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("the manifest is not UTF-8")
	}
	var m ociManifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("the manifest is not a JSON manifest: %v", jsonerr.Clean(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("the manifest has data after its JSON object")
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("the manifest's schemaVersion is %d, not 2", m.SchemaVersion)
	}
	if m.MediaType != "" && mediaType != "" && m.MediaType != mediaType {
		return nil, fmt.Errorf("the manifest says it is %s but was pushed as %s", m.MediaType, mediaType)
	}
	mt := m.MediaType
	if mt == "" {
		mt = mediaType
	}
	switch {
	case mt == MediaTypeImageIndex || mt == "" && m.Manifests != nil && m.Config == nil:
		return parseIndex(&m, lim)
	case mt == MediaTypeImageManifest || mt == "":
	default:
		return nil, fmt.Errorf("media type %q is not an OCI image manifest or index", mt)
	}
	if m.Manifests != nil {
		return nil, fmt.Errorf("an image manifest may not list manifests")
	}
	if m.Config == nil {
		return nil, fmt.Errorf("the manifest has no config")
	}
	if err := checkDescriptor("config", m.Config, lim); err != nil {
		return nil, err
	}
	if len(m.Layers) == 0 {
		return nil, fmt.Errorf("the manifest has no layers: there is no model to check")
	}
	if len(m.Layers) > lim.Layers {
		return nil, fmt.Errorf("the manifest has %d layers, more than the limit of %d", len(m.Layers), lim.Layers)
	}
	if err := checkAnnotations("the manifest", m.Annotations); err != nil {
		return nil, err
	}
	p := &parsed{Manifest: m, Kind: KindOCI}
	switch {
	case m.ArtifactType == ArtifactTypeModelPack || m.ArtifactType == ArtifactTypeModelPackLegacy ||
		m.Config.MediaType == MediaTypeModelPackConfig || m.Config.MediaType == mediaTypeModelPackConfigOld:
		p.Kind = KindModelPack
	case m.Config.MediaType == MediaTypeKitConfig:
		p.Kind = KindKitOps
	}
	var total int64
	for i := range m.Layers {
		d := &m.Layers[i]
		what := fmt.Sprintf("layer %d", i)
		if err := checkDescriptor(what, d, lim); err != nil {
			return nil, err
		}
		if total += d.Size; total > lim.BlobBytes {
			return nil, fmt.Errorf("the layers add up to more than the %d-byte limit", lim.BlobBytes)
		}
		l, err := classify(i, *d)
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %v", what, d.Digest, err)
		}
		p.Layers = append(p.Layers, l)
	}
	return p, nil
}

func parseIndex(m *ociManifest, lim Limits) (*parsed, error) {
	if m.Config != nil || m.Layers != nil {
		return nil, fmt.Errorf("an image index may not have a config or layers")
	}
	if len(m.Manifests) == 0 {
		return nil, fmt.Errorf("the index lists no manifests")
	}
	if len(m.Manifests) > lim.IndexManifests {
		return nil, fmt.Errorf("the index lists %d manifests, more than the limit of %d", len(m.Manifests), lim.IndexManifests)
	}
	if err := checkAnnotations("the index", m.Annotations); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i := range m.Manifests {
		d := &m.Manifests[i]
		what := fmt.Sprintf("manifest %d of the index", i)
		if err := checkDescriptor(what, d, lim); err != nil {
			return nil, err
		}
		if d.MediaType != MediaTypeImageManifest {
			return nil, fmt.Errorf("%s is %q: an index of models lists image manifests only", what, d.MediaType)
		}
		if d.Size > lim.ManifestBytes {
			return nil, fmt.Errorf("%s is %d bytes, more than the %d-byte manifest limit", what, d.Size, lim.ManifestBytes)
		}
		if seen[d.Digest] {
			return nil, fmt.Errorf("%s (%s) is listed twice", what, d.Digest)
		}
		seen[d.Digest] = true
	}
	return &parsed{Kind: KindIndex, Manifest: *m}, nil
}

func checkDescriptor(what string, d *descriptor, lim Limits) error {
	switch {
	case d.MediaType == "":
		return fmt.Errorf("%s has no mediaType", what)
	case len(d.MediaType) > 255:
		return fmt.Errorf("%s has a mediaType of %d bytes", what, len(d.MediaType))
	case !ValidDigest(d.Digest):
		return fmt.Errorf("%s has digest %q, not sha256:<64 hex> or sha512:<128 hex>", what, truncate(d.Digest, 80))
	case d.Size < 0:
		return fmt.Errorf("%s has a negative size", what)
	case d.Size > lim.BlobBytes:
		return fmt.Errorf("%s is %d bytes, more than the %d-byte limit", what, d.Size, lim.BlobBytes)
	case len(d.URLs) > 0:
		return fmt.Errorf("%s is a foreign layer (urls): the gate checks only content pushed to the registry", what)
	}
	return checkAnnotations(what, d.Annotations)
}

func checkAnnotations(what string, a map[string]string) error {
	if len(a) > maxAnnotations {
		return fmt.Errorf("%s has %d annotations, more than the limit of %d", what, len(a), maxAnnotations)
	}
	n := 0
	for k, v := range a {
		if n += len(k) + len(v); n > maxAnnotationBytes {
			return fmt.Errorf("%s has more than %d bytes of annotations", what, maxAnnotationBytes)
		}
	}
	return nil
}

// classify says what a layer holds and where its files go.
func classify(i int, d descriptor) (layer, error) {
	l := layer{Index: i, Desc: d}
	fp := d.Annotations[annotationFilepath]
	if fp == "" {
		fp = d.Annotations[annotationFilepathLegacy]
	}
	title := d.Annotations[annotationTitle]
	switch {
	case modelPackLayerRE().MatchString(d.MediaType):
		m := modelPackLayerRE().FindStringSubmatch(d.MediaType)
		l.Role, l.Packing, l.Path = m[2], m[3], fp
		if l.Path == "" && l.Packing == PackingRaw {
			l.Path = title
		}
	case kitLayerRE().MatchString(d.MediaType):
		m := kitLayerRE().FindStringSubmatch(d.MediaType)
		l.Role, l.Packing = m[1], PackingTar+m[2]
	case d.MediaType == MediaTypeSigstoreBundle:
		l.Role, l.Packing, l.Path = "signature", PackingRaw, firstNonEmpty(fp, title)
	case title != "" || fp != "":
		// A plain artifact (oras push): a file, or a directory oras
		// packed as a tarball (io.deis.oras.content.unpack).
		l.Role, l.Packing, l.Path = "file", PackingRaw, firstNonEmpty(fp, title)
		if d.Annotations[annotationOrasUnpack] == "true" {
			l.Packing = PackingTar
			switch {
			case strings.HasSuffix(d.MediaType, "+gzip"):
				l.Packing = PackingTarGzip
			case strings.HasSuffix(d.MediaType, "+zstd"):
				l.Packing = PackingTarZstd
			}
		}
	default:
		return l, fmt.Errorf("media type %q is not a model layer this gate reads, and no %s or %s annotation names its file", truncate(d.MediaType, 120), annotationFilepath, annotationTitle)
	}
	if l.Path != "" {
		p, err := cleanPath(l.Path)
		if err != nil {
			return l, fmt.Errorf("its path %q: %v", truncate(l.Path, 200), err)
		}
		l.Path = p
	}
	if l.Packing == PackingRaw && l.Path == "" && l.Role != "signature" {
		return l, fmt.Errorf("a raw layer needs a path (%s or %s)", annotationFilepath, annotationTitle)
	}
	return l, nil
}

// cleanPath checks a path an artifact gives a file and returns it in
// canonical form (slash-separated, relative, no "." or ".." component).
// A leading "./" and a trailing "/" are dropped.
func cleanPath(p string) (string, error) {
	p = strings.TrimPrefix(p, "./")
	p = strings.TrimSuffix(p, "/")
	switch {
	case p == "" || p == ".":
		return "", fmt.Errorf("empty path")
	case len(p) > maxPathBytes:
		return "", fmt.Errorf("longer than %d bytes", maxPathBytes)
	case !utf8.ValidString(p):
		return "", fmt.Errorf("not UTF-8")
	case strings.ContainsAny(p, "\x00\\"):
		return "", fmt.Errorf("contains a NUL or a backslash")
	case path.IsAbs(p):
		return "", fmt.Errorf("absolute")
	}
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".", "..":
			return "", fmt.Errorf("not a clean relative path (empty, . or .. component)")
		}
		for _, r := range c {
			if r < 0x20 || r == 0x7f {
				return "", fmt.Errorf("contains a control character")
			}
		}
	}
	return p, nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// modelPackConfig is the ModelPack config blob (specs-go/v1 Model).
type modelPackConfig struct {
	Descriptor struct {
		CreatedAt   string   `json:"createdAt"`
		Authors     []string `json:"authors"`
		Family      string   `json:"family"`
		Name        string   `json:"name"`
		DocURL      string   `json:"docURL"`
		SourceURL   string   `json:"sourceURL"`
		Version     string   `json:"version"`
		Revision    string   `json:"revision"`
		Vendor      string   `json:"vendor"`
		Licenses    []string `json:"licenses"`
		Title       string   `json:"title"`
		Description string   `json:"description"`
	} `json:"descriptor"`
	ModelFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diffIds"`
	} `json:"modelfs"`
	Config struct {
		Architecture string `json:"architecture"`
		Format       string `json:"format"`
		ParamSize    string `json:"paramSize"`
		Precision    string `json:"precision"`
		Quantization string `json:"quantization"`
	} `json:"config"`
}

// kitfile is the KitOps config blob: the Kitfile as JSON.
type kitfile struct {
	ManifestVersion string `json:"manifestVersion"`
	Package         struct {
		Name        string   `json:"name"`
		Version     string   `json:"version"`
		Description string   `json:"description"`
		License     string   `json:"license"`
		Authors     []string `json:"authors"`
	} `json:"package"`
	Model *struct {
		Name        string `json:"name"`
		Path        string `json:"path"`
		License     string `json:"license"`
		Framework   string `json:"framework"`
		Format      string `json:"format"`
		Version     string `json:"version"`
		Description string `json:"description"`
		Parts       []struct {
			Path    string `json:"path"`
			License string `json:"license"`
		} `json:"parts"`
	} `json:"model"`
	Code []struct {
		Path    string `json:"path"`
		License string `json:"license"`
	} `json:"code"`
	DataSets []struct {
		Name    string `json:"name"`
		Path    string `json:"path"`
		License string `json:"license"`
	} `json:"datasets"`
}

// readConfig reads the config blob of a ModelPack or KitOps manifest and
// fills the model's metadata and declared licences. diffIDs are the
// ModelPack config's layer content digests (nil for other kinds).
func readConfig(ctx context.Context, src BlobSource, p *parsed, lim Limits, m *Model, lic *[]declaredLicense) (diffIDs []string, err error) {
	fromAnnotations(p.Manifest.Annotations, m, lic)
	if p.Kind != KindModelPack && p.Kind != KindKitOps {
		return nil, nil
	}
	d := p.Manifest.Config
	if d.Size > lim.ConfigBytes {
		return nil, fmt.Errorf("the config is %d bytes, more than the %d-byte limit", d.Size, lim.ConfigBytes)
	}
	raw, err := readBlob(ctx, src, *d, lim.ConfigBytes)
	if err != nil {
		return nil, fmt.Errorf("the config: %v", err)
	}
	if p.Kind == KindKitOps {
		var k kitfile
		if err := json.Unmarshal(raw, &k); err != nil {
			return nil, fmt.Errorf("the config is not a Kitfile: %v", jsonerr.Clean(err))
		}
		set(&m.Name, k.Package.Name)
		set(&m.Version, k.Package.Version)
		set(&m.Description, k.Package.Description)
		m.Authors = boundList(appendNew(m.Authors, k.Package.Authors...))
		addLicense(lic, k.Package.License, "kitfile package")
		if k.Model != nil {
			if m.Name == "" {
				set(&m.Name, k.Model.Name)
			}
			if m.Version == "" {
				set(&m.Version, k.Model.Version)
			}
			set(&m.Format, k.Model.Format)
			set(&m.Framework, k.Model.Framework)
			addLicense(lic, k.Model.License, "kitfile model")
			for _, pt := range k.Model.Parts {
				addLicense(lic, pt.License, "kitfile model part "+truncate(pt.Path, 200))
			}
		}
		for _, c := range k.Code {
			addLicense(lic, c.License, "kitfile code "+truncate(c.Path, 200))
		}
		for _, ds := range k.DataSets {
			addLicense(lic, ds.License, "kitfile dataset "+truncate(firstNonEmpty(ds.Name, ds.Path), 200))
		}
		return nil, nil
	}
	var c modelPackConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("the config is not a ModelPack model config: %v", jsonerr.Clean(err))
	}
	ds := &c.Descriptor
	set(&m.Name, ds.Name)
	set(&m.Version, ds.Version)
	set(&m.Family, ds.Family)
	set(&m.Title, ds.Title)
	set(&m.Description, ds.Description)
	set(&m.Vendor, ds.Vendor)
	set(&m.CreatedAt, ds.CreatedAt)
	set(&m.SourceURL, ds.SourceURL)
	set(&m.DocURL, ds.DocURL)
	set(&m.Revision, ds.Revision)
	m.Authors = boundList(appendNew(m.Authors, ds.Authors...))
	for _, l := range ds.Licenses {
		addLicense(lic, l, "modelpack config")
	}
	set(&m.Architecture, c.Config.Architecture)
	set(&m.Format, c.Config.Format)
	set(&m.ParamSize, c.Config.ParamSize)
	set(&m.Precision, c.Config.Precision)
	set(&m.Quantization, c.Config.Quantization)
	switch n := len(c.ModelFS.DiffIDs); {
	case n == 0:
		return nil, nil
	case n != len(p.Layers):
		return nil, fmt.Errorf("the config lists %d layer digests (modelfs.diffIds) for %d layers", n, len(p.Layers))
	}
	return c.ModelFS.DiffIDs, nil
}

// fromAnnotations reads the OCI pre-defined annotations of the manifest.
func fromAnnotations(a map[string]string, m *Model, lic *[]declaredLicense) {
	set(&m.Name, a["org.opencontainers.image.title"])
	set(&m.Version, a["org.opencontainers.image.version"])
	set(&m.Description, a["org.opencontainers.image.description"])
	set(&m.Vendor, a["org.opencontainers.image.vendor"])
	set(&m.CreatedAt, a["org.opencontainers.image.created"])
	set(&m.SourceURL, a["org.opencontainers.image.source"])
	set(&m.Revision, a["org.opencontainers.image.revision"])
	if s := a["org.opencontainers.image.authors"]; s != "" {
		m.Authors = boundList(appendNew(m.Authors, s))
	}
	addLicense(lic, a["org.opencontainers.image.licenses"], "manifest annotation")
}

// set replaces *dst with v when v says something; later sources (the
// config) override earlier ones (annotations).
func set(dst *string, v string) {
	if v = strings.TrimSpace(v); v != "" {
		*dst = truncate(v, maxMetaBytes)
	}
}

func appendNew(dst []string, vs ...string) []string {
	for _, v := range vs {
		v = truncate(strings.TrimSpace(v), maxMetaBytes)
		if v != "" && !contains(dst, v) {
			dst = append(dst, v)
		}
	}
	return dst
}

func boundList(s []string) []string {
	if len(s) > maxMetaList {
		return s[:maxMetaList]
	}
	return s
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// readBlob reads a whole blob of at most max bytes, checking the size
// the descriptor promised.
func readBlob(ctx context.Context, src BlobSource, d descriptor, max int64) ([]byte, error) {
	ra, size, err := src.Open(ctx, d.Digest)
	if err != nil {
		return nil, fmt.Errorf("cannot open blob %s: %v", d.Digest, err)
	}
	if size != d.Size {
		return nil, fmt.Errorf("blob %s is %d bytes, but its descriptor says %d", d.Digest, size, d.Size)
	}
	if size > max {
		return nil, fmt.Errorf("blob %s is %d bytes, more than the %d-byte limit", d.Digest, size, max)
	}
	b, err := bounded.ReadAll(io.NewSectionReader(ra, 0, size), max)
	if err != nil {
		return nil, fmt.Errorf("cannot read blob %s: %v", d.Digest, err)
	}
	if int64(len(b)) != size {
		return nil, fmt.Errorf("blob %s: read %d of its %d bytes", d.Digest, len(b), size)
	}
	return b, nil
}
