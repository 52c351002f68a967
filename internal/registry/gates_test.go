package registry

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/registry/gate"
	"github.com/aigis-dev/aigis/internal/registry/store"
	"github.com/aigis-dev/aigis/internal/sign"
)

// The whole story with the real gates: a signed model from a trusted
// signer passes the gates and waits for an approver; the gate's AI-BOM is
// attached; once approved it pulls with every digest and the signature
// verified. A signed model with a malicious pickle is rejected, saying so.

func safetensors() []byte {
	header := []byte(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`)
	for len(header)%8 != 0 {
		header = append(header, ' ')
	}
	out := make([]byte, 8, 8+len(header)+8)
	binary.LittleEndian.PutUint64(out, uint64(len(header)))
	out = append(out, header...)
	return append(out, 0, 0, 128, 63, 0, 0, 0, 64) // 1.0, 2.0
}

func signedModel(t *testing.T, key *ecdsa.PrivateKey, files map[string][]byte) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	for p, b := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	signer, err := sign.WithKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sign.Model(context.Background(), dir, signer, sign.Options{Serialization: oms.Options{}, Signature: filepath.Join(dir, SignatureFile)}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRealGatesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the gates")
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := sign.MarshalPublicKey(&key.PublicKey)
	tr := newTestRegistry(t, Options{GateConfig: map[string]gate.Config{"models": {Trust: gate.Trust{PublicKeys: []string{string(pub)}}}}})
	tr.addUser(t, "alice", "", store.Role{Namespace: "models", Role: RolePusher})
	tr.addUser(t, "bob", "", store.Role{Namespace: "models", Role: RoleApprover})
	alice := &Client{Base: tr.URL, Token: tr.token(t, "alice")}
	bob := &Client{Base: tr.URL, Token: tr.token(t, "bob")}
	bobKey := approverKey(t, tr, "bob")
	ctx := context.Background()
	readme := []byte("---\nlicense: apache-2.0\n---\n# tiny\n")

	good := signedModel(t, key, map[string][]byte{"model.safetensors": safetensors(), "config.json": []byte(`{"model_type":"bert"}`), "README.md": readme})
	res, err := PushDir(ctx, alice, good, "models/good", "v1")
	if err != nil {
		t.Fatal(err)
	}
	m := waitGate(t, tr, "models/good", res.Digest)
	if m.State != store.Pending {
		t.Fatalf("a signed, clean, licensed model: %s (%s)\ngate: %s", m.State, m.Reason, m.Gate)
	}
	boms, err := alice.Referrers(ctx, "models/good", res.Digest, BOMArtifactType)
	if err != nil || len(boms) != 1 {
		t.Fatalf("the gate's BOM is not attached: %v %v", boms, err)
	}
	_, _, _, err = alice.Manifest(ctx, "models/good", "v1")
	wantDenied(t, err, "pending approval")
	env := approval(t, bob, bobKey, "bob", "models/good", res.Digest, time.Hour)
	if err := bob.API(ctx, "POST", "approve", ApproveRequest{Ref: "models/good:v1", Envelope: env}, nil); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	pr, err := PullDir(ctx, alice, "models/good", "v1", out, PullOptions{Key: &key.PublicKey, RequireSignature: true, ApproverKey: &bobKey.PublicKey})
	if err != nil || pr.Signature != "verified" {
		t.Fatalf("pull: %+v %v", pr, err)
	}

	// os.system("id") by pickle GLOBAL and REDUCE.
	evil := []byte("\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.")
	bad := signedModel(t, key, map[string][]byte{"model.pkl": evil, "README.md": readme})
	res, err = PushDir(ctx, alice, bad, "models/bad", "v1")
	if err != nil {
		t.Fatal(err)
	}
	m = waitGate(t, tr, "models/bad", res.Digest)
	if m.State != store.Rejected || !strings.Contains(m.Reason, "malicious") {
		t.Fatalf("a malicious pickle: %s (%s)", m.State, m.Reason)
	}
	_, _, _, err = alice.Manifest(ctx, "models/bad", "v1")
	wantDenied(t, err, "malicious")
	if err := bob.API(ctx, "POST", "approve", ApproveRequest{Ref: "models/bad:v1", Envelope: approval(t, bob, bobKey, "bob", "models/bad", res.Digest, time.Hour)}, nil); err == nil {
		t.Fatal("a rejected version was approved")
	}

	// Signed by a key the namespace does not trust: rejected.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	untrusted := signedModel(t, other, map[string][]byte{"model.safetensors": safetensors(), "README.md": readme})
	res, err = PushDir(ctx, alice, untrusted, "models/untrusted", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if m = waitGate(t, tr, "models/untrusted", res.Digest); m.State != store.Rejected || !strings.Contains(m.Reason, "signature") {
		t.Fatalf("an untrusted signer: %s (%s)", m.State, m.Reason)
	}
}

// TestSignatureAttachedLater: oras push, then oras attach of the bundle.
// The gates rejected the unsigned version; the attached signature sends
// it back through them, and now it passes. A version a person rejected
// stays rejected whatever is attached.
func TestSignatureAttachedLater(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the gates")
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := sign.MarshalPublicKey(&key.PublicKey)
	tr := newTestRegistry(t, Options{GateConfig: map[string]gate.Config{"*": {Trust: gate.Trust{PublicKeys: []string{string(pub)}}}}})
	tr.addUser(t, "alice", "", store.Role{Namespace: "models", Role: RolePusher})
	alice := &Client{Base: tr.URL, Token: tr.token(t, "alice")}
	ctx := context.Background()
	dir := signedModel(t, key, map[string][]byte{"model.safetensors": safetensors(), "README.md": []byte("---\nlicense: mit\n---\n")})
	bundle, _ := os.ReadFile(filepath.Join(dir, SignatureFile))
	os.Remove(filepath.Join(dir, SignatureFile))
	res, err := PushDir(ctx, alice, dir, "models/m", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if m := waitGate(t, tr, "models/m", res.Digest); m.State != store.Rejected || !strings.Contains(m.Reason, "not signed") {
		t.Fatalf("unsigned: %s (%s)", m.State, m.Reason)
	}
	var size int64
	tr.Meta.View(ctx, func(tx store.Tx) error {
		m, err := tx.Manifest(ctx, "models/m", res.Digest)
		size = int64(len(m.Content))
		return err
	})
	subject := Descriptor{MediaType: MediaTypeImageManifest, Digest: res.Digest, Size: size}
	if _, err := attach(ctx, alice, "models/m", subject, OMSBundleArtifactType, OMSBundleArtifactType, bundle, SignatureFile); err != nil {
		t.Fatal(err)
	}
	m := waitGate(t, tr, "models/m", res.Digest)
	if m.State != store.Pending || m.Gate == nil {
		t.Fatalf("after the signature was attached: %s (%s)", m.State, m.Reason)
	}
	if !auditActions(t, tr)["regate"] {
		t.Error("no regate row in the audit log")
	}
}
