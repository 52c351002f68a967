package registry

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aigis-dev/aigis/internal/registry/gate"
	"github.com/aigis-dev/aigis/internal/registry/store"
	"github.com/aigis-dev/aigis/internal/sign"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// pushModel pushes files as a ModelPack artifact and returns its digest.
func pushModel(t testing.TB, c *Client, repo, tag string, files map[string][]byte) (string, error) {
	t.Helper()
	ctx := context.Background()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var layers []Descriptor
	var diff []string
	for _, n := range names {
		b := files[n]
		d := sha(b)
		if err := c.PushBlob(ctx, repo, bytes.NewReader(b), int64(len(b)), d); err != nil {
			return "", err
		}
		layers = append(layers, Descriptor{MediaType: ModelPackLayerType(n), Digest: d, Size: int64(len(b)), Annotations: map[string]string{FilepathAnnotation: n}})
		diff = append(diff, d)
	}
	cfg, _ := json.Marshal(ModelPackConfig{
		Descriptor: ModelPackDescriptor{Name: "tiny", Version: "1.0", Licenses: []string{"Apache-2.0"}},
		Config:     ModelPackModel{Architecture: "transformer", Format: "safetensors", ParamSize: "1M"},
		ModelFS:    ModelPackFS{Type: "layers", DiffIDs: diff},
	})
	if err := c.PushBlob(ctx, repo, bytes.NewReader(cfg), int64(len(cfg)), sha(cfg)); err != nil {
		return "", err
	}
	body, err := ModelPackManifest(Descriptor{MediaType: ModelPackConfigType, Digest: sha(cfg), Size: int64(len(cfg))}, layers, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.PushManifest(ctx, repo, tag, MediaTypeImageManifest, body)
}

var tinyModel = map[string][]byte{"model.safetensors": []byte("weights go here"), "config.json": []byte(`{"a":1}`), "README.md": []byte("# tiny")}

// waitGate waits until the gate has looked at a version.
func waitGate(t *testing.T, tr *testRegistry, repo, digest string) *store.Manifest {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var m *store.Manifest
		err := tr.Meta.View(ctx, func(tx store.Tx) (err error) { m, err = tx.Manifest(ctx, repo, digest); return })
		if err != nil {
			t.Fatal(err)
		}
		if m.Gate != nil || m.State != store.Pending {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gate never ran on %s", digest)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func allowAll(context.Context, gate.Artifact, gate.Config) (*gate.Result, error) {
	return &gate.Result{Version: "test", Allowed: true}, nil
}

func wantDenied(t *testing.T, err error, fragment string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != codeDenied || e.Status != 403 || !strings.Contains(e.Message, fragment) {
		t.Fatalf("got %v, want DENIED (403) saying %q", err, fragment)
	}
}

// TestDefaultGateFailsClosed: with the shipped gate configuration (no
// trusted signer) an unsigned model is rejected, and the pull says why.
func TestDefaultGateFailsClosed(t *testing.T) {
	tr := newTestRegistry(t, Options{})
	tr.addUser(t, "alice", "", store.Role{Namespace: "models", Role: RolePusher})
	c := &Client{Base: tr.URL, Token: tr.token(t, "alice")}
	d, err := pushModel(t, c, "models/tiny", "v1", tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	m := waitGate(t, tr, "models/tiny", d)
	if m.State != store.Rejected || !strings.Contains(m.Reason, "not signed") {
		t.Fatalf("with the default gate the version is %s (%s), want rejected as unsigned", m.State, m.Reason)
	}
	_, _, _, err = c.Manifest(context.Background(), "models/tiny", "v1")
	wantDenied(t, err, "rejected: gate failed: ")
}

// approverKey registers a fresh approval key for user.
func approverKey(t *testing.T, tr *testRegistry, user string) *ecdsa.PrivateKey {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pem, err := sign.MarshalPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = tr.Meta.Update(ctx, func(tx store.Tx) error {
		u, err := tx.User(ctx, user)
		if err != nil {
			return err
		}
		u.Key = pem
		return tx.PutUser(ctx, u)
	})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func approval(t *testing.T, c *Client, key *ecdsa.PrivateKey, approver, repo, digest string, ttl time.Duration) []byte {
	return approvalAs(t, c, key, approver, repo, repo, digest, ttl)
}

// approvalAs signs an approval of repo@digest that names another
// repository.
func approvalAs(t *testing.T, c *Client, key *ecdsa.PrivateKey, approver, repo, named, digest string, ttl time.Duration) []byte {
	t.Helper()
	var v Version
	if err := c.API(context.Background(), "GET", "version?ref="+repo+"@"+digest, nil, &v); err != nil {
		t.Fatal(err)
	}
	st, err := NewApproval(named, digest, approver, ApprovalGate{Version: "test", Result: v.GateDigest}, ttl, "looks fine")
	if err != nil {
		t.Fatal(err)
	}
	env, err := SignApproval(key, st)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestApprovalFlow(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tr := newTestRegistry(t, Options{Gate: allowAll, Now: clock})
	tr.addUser(t, "alice", "", store.Role{Namespace: "models", Role: RolePusher})
	tr.addUser(t, "bob", "", store.Role{Namespace: "models", Role: RoleApprover})
	tr.addUser(t, "carol", "", store.Role{Namespace: "models", Role: RoleAdmin})
	alice := &Client{Base: tr.URL, Token: tr.token(t, "alice")}
	bob := &Client{Base: tr.URL, Token: tr.token(t, "bob")}
	carol := &Client{Base: tr.URL, Token: tr.token(t, "carol")}
	bobKey := approverKey(t, tr, "bob")
	carolKey := approverKey(t, tr, "carol")
	ctx := context.Background()

	d, err := pushModel(t, carol, "models/tiny", "v1", tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	if m := waitGate(t, tr, "models/tiny", d); m.State != store.Pending {
		t.Fatalf("a version that passed the gate in a manual namespace is %s", m.State)
	}
	_, _, _, err = alice.Manifest(ctx, "models/tiny", "v1")
	wantDenied(t, err, "pending approval")
	if _, _, err := alice.Blob(ctx, "models/tiny", sha(tinyModel["model.safetensors"])); err == nil {
		t.Fatal("a pusher read a blob of a pending version")
	}

	// Four eyes: the pusher (an admin and approver) may not approve.
	err = carol.API(ctx, "POST", "approve", ApproveRequest{Ref: "models/tiny@" + d, Envelope: approval(t, carol, carolKey, "carol", "models/tiny", d, time.Hour)}, nil)
	wantDenied(t, err, "four eyes")
	// A signature by another key than the approver's registered one.
	err = bob.API(ctx, "POST", "approve", ApproveRequest{Ref: "models/tiny@" + d, Envelope: approval(t, bob, carolKey, "bob", "models/tiny", d, time.Hour)}, nil)
	wantDenied(t, err, "verifies")
	// An approval of something else.
	err = bob.API(ctx, "POST", "approve", ApproveRequest{Ref: "models/tiny@" + d, Envelope: approvalAs(t, bob, bobKey, "bob", "models/tiny", "models/other", d, time.Hour)}, nil)
	if err == nil {
		t.Fatal("an approval naming another repository was accepted")
	}
	// A pusher may not approve at all.
	err = alice.API(ctx, "POST", "approve", ApproveRequest{Ref: "models/tiny@" + d, Envelope: approval(t, bob, bobKey, "bob", "models/tiny", d, time.Hour)}, nil)
	wantDenied(t, err, "may not approve")

	env := approval(t, bob, bobKey, "bob", "models/tiny", d, time.Hour)
	if err := bob.API(ctx, "POST", "approve", ApproveRequest{Ref: "models/tiny:v1", Envelope: env}, nil); err != nil {
		t.Fatal(err)
	}
	body, _, got, err := alice.Manifest(ctx, "models/tiny", "v1")
	if err != nil || got != d || sha(body) != d {
		t.Fatalf("pull after approval: %v %s", err, got)
	}
	rc, _, err := alice.Blob(ctx, "models/tiny", sha(tinyModel["model.safetensors"]))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(b, tinyModel["model.safetensors"]) {
		t.Fatal("blob content")
	}

	// The approval is a referrer anyone can verify offline with bob's key.
	refs, err := alice.Referrers(ctx, "models/tiny", d, ApprovalArtifactType)
	if err != nil || len(refs) != 1 {
		t.Fatalf("approval referrers: %v %v", refs, err)
	}
	rb, _, _, err := alice.Manifest(ctx, "models/tiny", refs[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	var rdoc ManifestDoc
	json.Unmarshal(rb, &rdoc)
	rc, _, err = alice.Blob(ctx, "models/tiny", rdoc.Layers[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(rc)
	rc.Close()
	st, err := VerifyApproval(stored, &bobKey.PublicKey)
	if err != nil || st.Digest() != d || st.Predicate.Approver != "bob" {
		t.Fatalf("offline verification: %+v %v", st, err)
	}
	if _, err := VerifyApproval(stored, &carolKey.PublicKey); err == nil {
		t.Fatal("the approval verified with another key")
	}

	// Expiry: the approval lapses.
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	_, _, _, err = alice.Manifest(ctx, "models/tiny", "v1")
	wantDenied(t, err, "expired")
	mu.Lock()
	now = now.Add(-2 * time.Hour)
	mu.Unlock()

	// Revocation takes effect on the next pull.
	if err := bob.API(ctx, "POST", "revoke", DecideRequest{Ref: "models/tiny:v1", Reason: "CVE in the tokenizer"}, nil); err != nil {
		t.Fatal(err)
	}
	_, _, _, err = alice.Manifest(ctx, "models/tiny", "v1")
	wantDenied(t, err, "revoked by bob")
	if _, _, err := alice.Blob(ctx, "models/tiny", sha(tinyModel["model.safetensors"])); err == nil {
		t.Fatal("a blob of a revoked version was served")
	}
	// A revoked version cannot be approved again.
	err = bob.API(ctx, "POST", "approve", ApproveRequest{Ref: "models/tiny:v1", Envelope: env}, nil)
	wantDenied(t, err, "not pending")

	// Reject: another version.
	d2, err := pushModel(t, carol, "models/tiny", "v2", map[string][]byte{"w.bin": []byte("other")})
	if err != nil {
		t.Fatal(err)
	}
	waitGate(t, tr, "models/tiny", d2)
	if err := bob.API(ctx, "POST", "reject", DecideRequest{Ref: "models/tiny:v2", Reason: "no model card"}, nil); err != nil {
		t.Fatal(err)
	}
	_, _, _, err = alice.Manifest(ctx, "models/tiny", "v2")
	wantDenied(t, err, "rejected by bob: no model card")

	res, err := VerifyAudit(ctx, tr.Meta, &tr.o.AuditKey.PublicKey)
	if err != nil || !res.OK() {
		t.Fatalf("audit after the flow: %+v %v", res, err)
	}
	actions := auditActions(t, tr)
	for _, a := range []string{"push", "gate", "approve-denied", "approve", "pull", "pull-denied", "revoke", "reject", "denied"} {
		if !actions[a] {
			t.Errorf("no %q row in the audit log", a)
		}
	}
}

func auditActions(t *testing.T, tr *testRegistry) map[string]bool {
	t.Helper()
	var buf bytes.Buffer
	if err := ExportAudit(context.Background(), tr.Meta, 0, &buf); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var e store.AuditEntry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("audit export line %q: %v", l, err)
		}
		seen[e.Action] = true
	}
	return seen
}

func TestAutoApprove(t *testing.T) {
	tr := newTestRegistry(t, Options{Gate: allowAll, Modes: map[string]GateMode{"auto": GateAuto}})
	tr.addUser(t, "alice", "", store.Role{Namespace: "*", Role: RolePusher})
	c := &Client{Base: tr.URL, Token: tr.token(t, "alice")}
	d, err := pushModel(t, c, "auto/tiny", "v1", tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	if m := waitGate(t, tr, "auto/tiny", d); m.State != store.Approved {
		t.Fatalf("auto namespace: %s (%s)", m.State, m.Reason)
	}
	if _, _, _, err := c.Manifest(context.Background(), "auto/tiny", "v1"); err != nil {
		t.Fatal(err)
	}
	// A gate that denies rejects, auto or not.
	tr2 := newTestRegistry(t, Options{Modes: map[string]GateMode{"auto": GateAuto},
		Gate: func(context.Context, gate.Artifact, gate.Config) (*gate.Result, error) {
			return &gate.Result{Version: "test", Allowed: false, Reasons: []string{"malicious pickle in model.bin"}}, nil
		}})
	tr2.addUser(t, "alice", "", store.Role{Namespace: "*", Role: RolePusher})
	c2 := &Client{Base: tr2.URL, Token: tr2.token(t, "alice")}
	d, _ = pushModel(t, c2, "auto/tiny", "v1", tinyModel)
	waitGate(t, tr2, "auto/tiny", d)
	_, _, _, err = c2.Manifest(context.Background(), "auto/tiny", "v1")
	wantDenied(t, err, "gate failed: malicious pickle in model.bin")
}

func TestGateCrashFailsClosed(t *testing.T) {
	tr := newTestRegistry(t, Options{Modes: map[string]GateMode{"*": GateAuto},
		Gate: func(context.Context, gate.Artifact, gate.Config) (*gate.Result, error) {
			return nil, errors.New("scanner exploded")
		}})
	tr.addUser(t, "alice", "", store.Role{Namespace: "*", Role: RolePusher})
	c := &Client{Base: tr.URL, Token: tr.token(t, "alice")}
	d, _ := pushModel(t, c, "m/x", "v1", tinyModel)
	if m := waitGate(t, tr, "m/x", d); m.State != store.Rejected || !strings.Contains(m.Reason, "scanner exploded") {
		t.Fatalf("a gate error left the version %s (%s)", m.State, m.Reason)
	}
}

func TestGateSeesVerifiedBlobs(t *testing.T) {
	var got []byte
	tr := newTestRegistry(t, Options{Modes: map[string]GateMode{"*": GateAuto},
		Gate: func(ctx context.Context, a gate.Artifact, _ gate.Config) (*gate.Result, error) {
			var doc ManifestDoc
			json.Unmarshal(a.Manifest, &doc)
			for _, l := range doc.Layers {
				if l.Annotations[FilepathAnnotation] == "model.safetensors" {
					r, n, err := a.Blobs.Open(ctx, l.Digest)
					if err != nil {
						return nil, err
					}
					got = make([]byte, n)
					r.ReadAt(got, 0)
				}
			}
			// Another repository's blob is not the gate's to read.
			if _, _, err := a.Blobs.Open(ctx, sha([]byte("elsewhere"))); err == nil {
				return nil, fmt.Errorf("read a blob of another repository")
			}
			return &gate.Result{Version: "t", Allowed: true}, nil
		}})
	tr.addUser(t, "alice", "", store.Role{Namespace: "*", Role: RolePusher})
	c := &Client{Base: tr.URL, Token: tr.token(t, "alice")}
	pushModel(t, c, "other/x", "v1", map[string][]byte{"a.bin": []byte("elsewhere")})
	d, _ := pushModel(t, c, "m/x", "v1", tinyModel)
	if m := waitGate(t, tr, "m/x", d); m.State != store.Approved {
		t.Fatalf("%s: %s", m.State, m.Reason)
	}
	if !bytes.Equal(got, tinyModel["model.safetensors"]) {
		t.Fatalf("the gate read %q", got)
	}
}

func TestIntegrityByteFlipAfterApproval(t *testing.T) {
	tr := newTestRegistry(t, Options{Modes: map[string]GateMode{"*": GateNone}})
	tr.addUser(t, "alice", "", store.Role{Namespace: "*", Role: RoleAdmin})
	tr.addUser(t, "rita", "", store.Role{Namespace: "*", Role: RoleReader})
	admin := &Client{Base: tr.URL, Token: tr.token(t, "alice")}
	c := &Client{Base: tr.URL, Token: tr.token(t, "rita")}
	ctx := context.Background()
	big := bytes.Repeat([]byte("0123456789abcdef"), 300000) // 4.8 MB: several chunks
	files := map[string][]byte{"model.safetensors": big, "config.json": []byte(`{}`)}
	d, err := pushModel(t, admin, "m/x", "v1", files)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.Manifest(ctx, "m/x", "v1"); err != nil {
		t.Fatal(err)
	}
	// Flip one byte at rest, keeping the size.
	p, _ := tr.Blobs.Path(sha(big))
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{'X'}, int64(len(big)-3))
	f.Close()

	rc, n, err := c.Blob(ctx, "m/x", sha(big))
	if err == nil {
		got, rerr := io.ReadAll(rc)
		rc.Close()
		if rerr == nil || int64(len(got)) == n {
			t.Fatalf("a changed blob was served whole (%d of %d bytes, %v)", len(got), n, rerr)
		}
	}
	_, _, _, err = c.Manifest(ctx, "m/x", "v1")
	wantDenied(t, err, "integrity")
	if !auditActions(t, tr)["quarantine"] {
		t.Fatal("no quarantine row in the audit log")
	}
	// The blob stays refused on the next request too.
	if rc, _, err := c.Blob(ctx, "m/x", sha(big)); err == nil {
		rc.Close()
		t.Fatal("the changed blob is served on the next request")
	}
	// Even to an admin, who may read unapproved bytes, it is never sent whole.
	if rc, n, err := admin.Blob(ctx, "m/x", sha(big)); err == nil {
		got, rerr := io.ReadAll(rc)
		rc.Close()
		if rerr == nil || int64(len(got)) == n {
			t.Fatal("the changed blob was sent whole to an admin")
		}
	}
	_ = d
	// fsck names the damage.
	rep, err := Fsck(ctx, tr.Meta, tr.Blobs, FsckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || !strings.Contains(fmt.Sprint(rep.Problems), "does not hash") {
		t.Fatalf("fsck after a byte flip: %+v", rep.Problems)
	}
}

func TestAuditDetectsTampering(t *testing.T) {
	for _, tc := range []struct {
		name   string
		attack string
	}{
		{"edited row", `UPDATE audit SET actor='mallory' WHERE seq=3`},
		{"deleted row", `DELETE FROM audit WHERE seq=2`},
		{"reordered rows", `UPDATE audit SET seq=-1 WHERE seq=2; UPDATE audit SET seq=2 WHERE seq=3; UPDATE audit SET seq=3 WHERE seq=-1`},
		{"cut tail", `DELETE FROM audit WHERE seq>=4`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestRegistry(t, Options{Modes: map[string]GateMode{"*": GateNone}, CheckpointEvery: 4})
			tr.addUser(t, "alice", "", store.Role{Namespace: "*", Role: RoleAdmin})
			c := &Client{Base: tr.URL, Token: tr.token(t, "alice")}
			for i := 0; i < 6; i++ {
				if _, err := pushModel(t, c, "m/x", fmt.Sprint("v", i), map[string][]byte{"w.bin": []byte(fmt.Sprint(i))}); err != nil {
					t.Fatal(err)
				}
			}
			ctx := context.Background()
			res, err := VerifyAudit(ctx, tr.Meta, &tr.o.AuditKey.PublicKey)
			if err != nil || !res.OK() || res.Rows < 4 {
				t.Fatalf("untouched log: %+v %v", res, err)
			}
			// The attacker has the database file, not the audit key.
			if err := tr.Meta.Exec(`DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; ` + tc.attack); err != nil {
				t.Fatal(err)
			}
			res, err = VerifyAudit(ctx, tr.Meta, &tr.o.AuditKey.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			if res.OK() {
				t.Fatalf("%s went unnoticed", tc.name)
			}
			t.Logf("%s: %v", tc.name, res.Problems[0].Problem)
		})
	}
}

var _ = filepath.Join
