package registry

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/registry/store"
	"github.com/aigis-dev/aigis/internal/sign"
)

func writeModel(t *testing.T, dir string) {
	t.Helper()
	for p, b := range map[string]string{"model.safetensors": "weights", "config.json": `{"a":1}`, "tokenizer/vocab.json": `{"x":0}`, "README.md": "# m"} {
		full := filepath.Join(dir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPushPullDirSignedAndApproved(t *testing.T) {
	tr := newTestRegistry(t, Options{Gate: allowAll})
	tr.addUser(t, "alice", "", store.Role{Namespace: "models", Role: RolePusher})
	tr.addUser(t, "bob", "", store.Role{Namespace: "models", Role: RoleApprover})
	alice := &Client{Base: tr.URL, Token: tr.token(t, "alice")}
	bob := &Client{Base: tr.URL, Token: tr.token(t, "bob")}
	bobKey := approverKey(t, tr, "bob")
	ctx := context.Background()

	src := filepath.Join(t.TempDir(), "bert")
	writeModel(t, src)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := sign.WithKey(key)
	if _, err := sign.Model(ctx, src, signer, sign.Options{Serialization: oms.Options{}, Signature: filepath.Join(src, SignatureFile)}); err != nil {
		t.Fatal(err)
	}
	res, err := PushDir(ctx, alice, src, "models/bert", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 4 || res.Signature == "" {
		t.Fatalf("push: %+v", res)
	}
	waitGate(t, tr, "models/bert", res.Digest)
	dst := filepath.Join(t.TempDir(), "out")
	if _, err := PullDir(ctx, alice, "models/bert", "v1", dst, PullOptions{Key: &key.PublicKey}); err == nil || !strings.Contains(err.Error(), "pending approval") {
		t.Fatalf("pull of a pending model: %v", err)
	}
	if _, err := os.Lstat(dst); err == nil {
		t.Fatal("a refused pull left a directory")
	}
	env := approval(t, bob, bobKey, "bob", "models/bert", res.Digest, time.Hour)
	if err := bob.API(ctx, "POST", "approve", ApproveRequest{Ref: "models/bert:v1", Envelope: env}, nil); err != nil {
		t.Fatal(err)
	}
	pr, err := PullDir(ctx, alice, "models/bert", "v1", dst, PullOptions{Key: &key.PublicKey, RequireSignature: true, ApproverKey: &bobKey.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	if pr.Signature != "verified" || !strings.HasPrefix(pr.Approval, "verified: approved by bob") || len(pr.Files) != 4 {
		t.Fatalf("pull: %+v", pr)
	}
	b, err := os.ReadFile(filepath.Join(dst, "tokenizer", "vocab.json"))
	if err != nil || string(b) != `{"x":0}` {
		t.Fatalf("pulled file: %q %v", b, err)
	}
	// A pull into an existing directory is refused.
	if _, err := PullDir(ctx, alice, "models/bert", "v1", dst, PullOptions{}); err == nil {
		t.Fatal("pull over an existing directory")
	}
	// The wrong signing key fails the pull and leaves nothing.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dst2 := filepath.Join(t.TempDir(), "out2")
	if _, err := PullDir(ctx, alice, "models/bert", "v1", dst2, PullOptions{Key: &other.PublicKey}); err == nil {
		t.Fatal("a signature by another key verified")
	}
	if _, err := os.Lstat(dst2); err == nil {
		t.Fatal("a failed pull left a directory")
	}
	entries, _ := os.ReadDir(filepath.Dir(dst2))
	if len(entries) != 0 {
		t.Fatalf("a failed pull left %v", entries)
	}
}

func TestPullRefusesUnsafePaths(t *testing.T) {
	for _, p := range []string{"../x", "/etc/passwd", "a/../../x", "a\\b", "./a", "a//b", ".."} {
		if _, err := safeRel(p); err == nil {
			t.Errorf("safeRel(%q) accepted", p)
		}
	}
	for _, p := range []string{"a", "a/b.json", ".hidden"} {
		if _, err := safeRel(p); err != nil {
			t.Errorf("safeRel(%q): %v", p, err)
		}
	}
}

func TestPushRefusesLinks(t *testing.T) {
	dir := t.TempDir()
	writeModel(t, dir)
	os.Symlink("/etc/passwd", filepath.Join(dir, "evil"))
	if _, err := walkModel(dir); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("a link in the model: %v", err)
	}
}

// TestKitOpsModelKitListed: a ModelKit as kit pushes it (the Kitfile as a
// JSON config, layers of KitOps media types) is recognised and listed
// with its package metadata.
func TestKitOpsModelKitListed(t *testing.T) {
	tr := newTestRegistry(t, Options{Modes: map[string]GateMode{"*": GateNone}})
	tr.addUser(t, "u", "", store.Role{Namespace: "*", Role: RoleAdmin})
	c := &Client{Base: tr.URL, Token: tr.token(t, "u")}
	ctx := context.Background()
	kitfile := []byte(`{"manifestVersion":"1.0","package":{"name":"sentiment","version":"3.2","license":"MIT","authors":["kit"]},"model":{"name":"sentiment-model","path":"model.onnx","framework":"onnx"}}`)
	weights := []byte("onnx bytes")
	for _, b := range [][]byte{kitfile, weights} {
		if err := c.PushBlob(ctx, "kit/sentiment", strings.NewReader(string(b)), int64(len(b)), sha(b)); err != nil {
			t.Fatal(err)
		}
	}
	body := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
"config":{"mediaType":"application/vnd.kitops.modelkit.config.v1+json","digest":"` + sha(kitfile) + `","size":` + fmt.Sprint(len(kitfile)) + `},
"layers":[{"mediaType":"application/vnd.kitops.modelkit.model.v1.tar+gzip","digest":"` + sha(weights) + `","size":` + fmt.Sprint(len(weights)) + `}],
"annotations":{"ml.kitops.modelkit.kitfile":"..."}}`
	if _, err := c.PushManifest(ctx, "kit/sentiment", "v3", MediaTypeImageManifest, []byte(body)); err != nil {
		t.Fatal(err)
	}
	var vs []Version
	if err := c.API(ctx, "GET", "versions?repo=kit/sentiment", nil, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].Model == nil || vs[0].Model.Kind != "kitops" || vs[0].Model.Name != "sentiment" ||
		vs[0].Model.Version != "3.2" || vs[0].Model.Format != "onnx" || len(vs[0].Model.Licenses) != 1 {
		t.Fatalf("listing: %+v", vs[0].Model)
	}
}
