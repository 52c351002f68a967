package gate

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/aigis-dev/aigis/internal/osvdb"
	"github.com/aigis-dev/aigis/internal/sign"
	"github.com/aigis-dev/aigis/internal/testutil"
)

// blobs is an in-memory BlobSource.
type blobs struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newBlobs() *blobs { return &blobs{m: map[string][]byte{}} }

func (b *blobs) Open(_ context.Context, d string) (io.ReaderAt, int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.m[d]
	if !ok {
		return nil, 0, fmt.Errorf("blob %s unknown", d)
	}
	return bytes.NewReader(data), int64(len(data)), nil
}

func digestOf(data []byte) string {
	s := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(s[:])
}

func (b *blobs) put(data []byte) string {
	d := digestOf(data)
	b.mu.Lock()
	b.m[d] = data
	b.mu.Unlock()
	return d
}

// file is one file of a model as it is unpacked.
type file struct {
	name string
	data []byte
}

// lay is a layer to push: its media type, content and annotations.
type lay struct {
	mediaType string
	data      []byte
	ann       map[string]string
}

func desc(b *blobs, mediaType string, data []byte, ann map[string]string) map[string]any {
	d := map[string]any{"mediaType": mediaType, "digest": b.put(data), "size": len(data)}
	if len(ann) > 0 {
		d["annotations"] = ann
	}
	return d
}

// manifestOf pushes the config and layers and returns the manifest.
func manifestOf(b *blobs, artifactType, configMT string, config []byte, layers []lay, ann map[string]string) []byte {
	var ls []map[string]any
	for _, l := range layers {
		ls = append(ls, desc(b, l.mediaType, l.data, l.ann))
	}
	m := map[string]any{"schemaVersion": 2, "mediaType": MediaTypeImageManifest, "config": desc(b, configMT, config, nil), "layers": ls}
	if artifactType != "" {
		m["artifactType"] = artifactType
	}
	if len(ann) > 0 {
		m["annotations"] = ann
	}
	out, _ := json.Marshal(m)
	return out
}

// tarOf packs files into a tar, compressed as packing says.
func tarOf(t testing.TB, packing string, files ...file) []byte {
	var es []testutil.TarEntry
	for _, f := range files {
		es = append(es, testutil.TarEntry{Name: f.name, Data: f.data})
	}
	return compress(t, packing, testutil.Tar(t, es...))
}

func compress(t testing.TB, packing string, raw []byte) []byte {
	var buf bytes.Buffer
	switch packing {
	case PackingTarGzip:
		w := gzip.NewWriter(&buf)
		w.Write(raw)
		w.Close()
	case PackingTarZstd:
		w, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(raw)
		w.Close()
	default:
		return raw
	}
	return buf.Bytes()
}

func modelPackLayer(role, path string, data []byte) lay {
	return lay{mediaType: "application/vnd.cncf.model." + role + ".v1.raw", data: data, ann: map[string]string{annotationFilepath: path}}
}

func modelPackTar(t testing.TB, role, packing, path string, files ...file) lay {
	return lay{mediaType: "application/vnd.cncf.model." + role + ".v1." + packing, data: tarOf(t, packing, files...), ann: map[string]string{annotationFilepath: path}}
}

func modelPackConfigJSON(name, version string, licenses ...string) []byte {
	c := map[string]any{
		"descriptor": map[string]any{"name": name, "version": version, "family": "tiny", "licenses": licenses, "authors": []string{"aigis tests"}},
		"config":     map[string]any{"architecture": "transformer", "format": "safetensors", "paramSize": "12", "precision": "fp32"},
		"modelfs":    map[string]any{"type": "layers", "diffIds": []string{}},
	}
	out, _ := json.Marshal(c)
	return out
}

// referrer pushes bundle as an OMS signature referrer of the manifest.
func referrer(b *blobs, subject []byte, bundle []byte) []byte {
	m := map[string]any{
		"schemaVersion": 2, "mediaType": MediaTypeImageManifest, "artifactType": MediaTypeSigstoreBundle,
		"config":  desc(b, MediaTypeEmpty, []byte("{}"), nil),
		"layers":  []map[string]any{desc(b, MediaTypeSigstoreBundle, bundle, nil)},
		"subject": map[string]any{"mediaType": MediaTypeImageManifest, "digest": digestOf(subject), "size": len(subject)},
	}
	out, _ := json.Marshal(m)
	return out
}

// signer is a key pair the tests sign with, and the namespace trust
// that accepts it.
type signer struct {
	s     *sign.Signer
	trust Trust
}

func newSigner(t testing.TB) signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sign.WithKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sign.MarshalPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return signer{s: s, trust: Trust{PublicKeys: []string{string(pub)}}}
}

// sign signs the files as they will be unpacked; inside names the bundle's
// own path when it travels inside the artifact ("" for a referrer).
func (s signer) sign(t testing.TB, inside string, files ...file) []byte {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "model")
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sig := filepath.Join(dir, "model.sig")
	if inside != "" {
		sig = filepath.Join(root, filepath.FromSlash(inside))
	}
	res, err := sign.Model(context.Background(), root, s.s, sign.Options{Signature: sig})
	if err != nil {
		t.Fatal(err)
	}
	return res.Data
}

// osvDB builds an OSV database with one malicious PyPI package,
// litellm 1.82.7.
func osvDB(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "osv-scanner", "PyPI", "all.zip")
	os.MkdirAll(filepath.Dir(p), 0o755)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, _ := zw.Create("MAL-2026-2144.json")
	w.Write([]byte(`{"id":"MAL-2026-2144","summary":"Malicious code in litellm (PyPI)","affected":[{"package":{"ecosystem":"PyPI","name":"litellm"},"versions":["1.82.7"]}]}`))
	zw.Close()
	f.Close()
	db := filepath.Join(t.TempDir(), "osv.db")
	if _, err := osvdb.Import(context.Background(), db, dir); err != nil {
		t.Fatal(err)
	}
	return db
}

// Model files the tests use.
var (
	safetensors = testutil.SafetensorsModel(map[string]string{"format": "pt"}, testutil.STensor{Name: "w", Shape: []int64{3, 4}, Data: make([]byte, 48)})
	configJSON  = []byte(`{"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 4}`)
	tokenizer   = []byte(`{"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0}}}`)
	// maliciousPickle calls os.system when unpickled.
	maliciousPickle = []byte("cos\nsystem\n(S'id'\ntR.")
)

func readme(license string) []byte {
	return []byte("---\nlicense: " + license + "\n---\n# tiny\n\nA tiny test model.\n")
}

var pushed = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func run(t testing.TB, a Artifact, cfg Config) *Result {
	t.Helper()
	if a.Repository == "" {
		a.Repository = "team/tiny"
	}
	if a.Digest == "" {
		a.Digest = digestOf(a.Manifest)
	}
	if a.MediaType == "" {
		a.MediaType = MediaTypeImageManifest
	}
	if a.PushedAt.IsZero() {
		a.PushedAt = pushed
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = t.TempDir()
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	res, err := Run(context.Background(), a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(cfg.WorkDir); len(left) != 0 {
		t.Errorf("the gate left %d entries in its work directory", len(left))
	}
	return res
}

func jsonOf(t testing.TB, v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
