package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/memory"
	orasremote "oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/aigis-dev/aigis/internal/registry/store"
)

// Real clients, in process: oras-go (what the oras CLI, KitOps' kit and
// modctl use), logging in through the token flow with a user name and
// password. scripts/registry-clients.sh runs the oras CLI itself.

func orasRepo(t *testing.T, tr *testRegistry, repo, user, pw string) *orasremote.Repository {
	t.Helper()
	r, err := orasremote.NewRepository(tr.Host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	r.Client = &auth.Client{Client: retry.DefaultClient, Cache: auth.NewCache(),
		Credential: auth.StaticCredential(tr.Host, auth.Credential{Username: user, Password: pw})}
	return r
}

// TestORASModelPackRoundTrip pushes a ModelPack artifact with oras-go
// (artifact type, layer media types, file path annotations), checks that
// the registry recognises it, gates it and lists its model metadata,
// refuses the pull while it is pending, and round-trips it once approved.
func TestORASModelPackRoundTrip(t *testing.T) {
	tr := newTestRegistry(t, Options{Gate: allowAll})
	tr.addUser(t, "pusher", "pusher password", store.Role{Namespace: "models", Role: RolePusher})
	tr.addUser(t, "reader", "reader password", store.Role{Namespace: "models", Role: RoleReader})
	ctx := context.Background()

	src := memory.New()
	var layers []ocispec.Descriptor
	files := map[string][]byte{"model.safetensors": bytes.Repeat([]byte{1, 2, 3, 4}, 1<<18), "config.json": []byte(`{"architectures":["BertModel"]}`), "README.md": []byte("# bert")}
	for _, n := range []string{"README.md", "config.json", "model.safetensors"} {
		d := ocispec.Descriptor{MediaType: ModelPackLayerType(n), Digest: digestFor(files[n]), Size: int64(len(files[n])),
			Annotations: map[string]string{FilepathAnnotation: n}}
		if err := src.Push(ctx, d, bytes.NewReader(files[n])); err != nil {
			t.Fatal(err)
		}
		layers = append(layers, d)
	}
	cfg, _ := json.Marshal(ModelPackConfig{
		Descriptor: ModelPackDescriptor{Name: "bert-tiny", Version: "2.1", Licenses: []string{"Apache-2.0"}, Authors: []string{"aigis"}},
		Config:     ModelPackModel{Architecture: "transformer", Format: "safetensors", ParamSize: "4M", Precision: "float32"},
		ModelFS:    ModelPackFS{Type: "layers"},
	})
	cfgDesc := ocispec.Descriptor{MediaType: ModelPackConfigType, Digest: digestFor(cfg), Size: int64(len(cfg))}
	if err := src.Push(ctx, cfgDesc, bytes.NewReader(cfg)); err != nil {
		t.Fatal(err)
	}
	root, err := oras.PackManifest(ctx, src, oras.PackManifestVersion1_1, ModelPackArtifactType,
		oras.PackManifestOptions{Layers: layers, ConfigDescriptor: &cfgDesc})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Tag(ctx, root, "v1"); err != nil {
		t.Fatal(err)
	}
	push := orasRepo(t, tr, "models/bert", "pusher", "pusher password")
	if _, err := oras.Copy(ctx, src, "v1", push, "v1", oras.DefaultCopyOptions); err != nil {
		t.Fatalf("oras push: %v", err)
	}
	m := waitGate(t, tr, "models/bert", root.Digest.String())
	if m.State != store.Pending {
		t.Fatalf("after the gate: %s", m.State)
	}
	// Listed with its model metadata.
	admin := &Client{Base: tr.URL, Username: "reader", Password: "reader password"}
	var vs []Version
	if err := admin.API(ctx, "GET", "versions?repo=models/bert", nil, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].Model == nil || vs[0].Model.Kind != "modelpack" || vs[0].Model.Name != "bert-tiny" ||
		vs[0].Model.Version != "2.1" || vs[0].Model.Format != "safetensors" || len(vs[0].Model.Files) != 3 || vs[0].State != "pending" {
		t.Fatalf("listing: %+v", vs)
	}
	if vs[0].Model.Files[2].Path != "model.safetensors" {
		t.Fatalf("file paths: %+v", vs[0].Model.Files)
	}
	// A pull of the pending model fails, saying why.
	pull := orasRepo(t, tr, "models/bert", "reader", "reader password")
	dst := memory.New()
	_, err = oras.Copy(ctx, pull, "v1", dst, "v1", oras.DefaultCopyOptions)
	if err == nil || !strings.Contains(strings.ToUpper(err.Error()), "DENIED") || !strings.Contains(err.Error(), "pending approval") {
		t.Fatalf("oras pull of a pending model: %v", err)
	}
	// Approved, it round-trips.
	ctx2 := context.Background()
	tr.Meta.Update(ctx2, func(tx store.Tx) error {
		return tx.SetState(ctx2, "models/bert", root.Digest.String(), nil, store.StateChange{To: store.Approved, By: "test"})
	})
	got, err := oras.Copy(ctx, pull, "v1", dst, "v1", oras.DefaultCopyOptions)
	if err != nil {
		t.Fatalf("oras pull: %v", err)
	}
	if got.Digest != root.Digest {
		t.Fatalf("pulled %s, pushed %s", got.Digest, root.Digest)
	}
	for _, l := range layers {
		b, err := dst.Fetch(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(b)
		b.Close()
		if !bytes.Equal(buf.Bytes(), files[l.Annotations[FilepathAnnotation]]) {
			t.Fatalf("layer %s differs", l.Annotations[FilepathAnnotation])
		}
	}
}

func digestFor(b []byte) digest.Digest { return digest.Digest(sha(b)) }
