package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aigis-dev/aigis/internal/registry"
	"github.com/aigis-dev/aigis/internal/registry/gate"
	"github.com/aigis-dev/aigis/internal/sign"
)

// syncBuffer is a buffer two goroutines may use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServe runs `aigis registry serve` in process until the test ends.
func startServe(t *testing.T, data string, extra ...string) (url, stdout string) {
	t.Helper()
	addr := freePort(t)
	var out, errb syncBuffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		root := newRoot(env)
		root.SetArgs(append([]string{"--config", "none", "registry", "serve", "--data", data, "--listen", addr}, extra...))
		code := ExitOK
		if err := root.ExecuteContext(ctx); err != nil {
			code = ExitError
			t.Logf("serve: %v", err)
		}
		done <- code
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "http://" + addr, out.String()
}

func adminToken(t *testing.T, stdout string) string {
	t.Helper()
	i := strings.Index(stdout, "aigis_")
	if i < 0 {
		t.Fatalf("no admin token printed:\n%s", stdout)
	}
	return strings.Fields(stdout[i:])[0]
}

func TestRegistryServeFirstStart(t *testing.T) {
	data := t.TempDir()
	url, out := startServe(t, data)
	if !strings.Contains(out, "first start: created user admin") {
		t.Fatalf("first start printed:\n%s", out)
	}
	tok := adminToken(t, out)
	r := runCLI(t, map[string]string{"AIGIS_REGISTRY": url, "AIGIS_TOKEN": tok}, "--config", "none", "registry", "ls", "-o", "json")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("ls on an empty registry: %d %q %s", r.code, r.stdout, r.stderr)
	}
	for _, f := range []string{"meta.db", "audit.key", "audit.pub", "blobs"} {
		if _, err := os.Stat(filepath.Join(data, f)); err != nil {
			t.Errorf("data dir: %v", err)
		}
	}
}

func TestRegistryServeSecondStartPrintsNoToken(t *testing.T) {
	data := t.TempDir()
	_, out := startServe(t, data)
	adminToken(t, out)
	// A second server on the same data (another process would do the same).
	_, out2 := startServe(t, data)
	if strings.Contains(out2, "aigis_") {
		t.Fatalf("a second start printed a token:\n%s", out2)
	}
}

// TestRegistryCLIFlow drives every client verb against a server.
func TestRegistryCLIFlow(t *testing.T) {
	data := t.TempDir()
	url, out := startServe(t, data, "--gate", "ci=auto")
	_ = gate.Version
	admin := map[string]string{"AIGIS_REGISTRY": url, "AIGIS_TOKEN": adminToken(t, out)}
	cli := func(env map[string]string, args ...string) result {
		t.Helper()
		return runCLI(t, env, append([]string{"--config", "none", "registry"}, args...)...)
	}
	must := func(r result) result {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		return r
	}
	// Users, roles, tokens.
	must(cli(admin, "user", "add", "alice", "--robot"))
	must(cli(admin, "user", "add", "bob", "--robot"))
	must(cli(admin, "role", "set", "alice", "models", "pusher"))
	must(cli(admin, "role", "set", "bob", "models", "approver"))
	tokenOf := func(user string) map[string]string {
		r := must(cli(admin, "token", "create", "--user", user, "--ttl", "1h", "-o", "json"))
		var t map[string]any
		json.Unmarshal([]byte(r.stdout), &t)
		return map[string]string{"AIGIS_REGISTRY": url, "AIGIS_TOKEN": t["token"].(string)}
	}
	alice, bob := tokenOf("alice"), tokenOf("bob")
	if r := must(cli(admin, "user", "ls")); !strings.Contains(r.stdout, "models:approver") {
		t.Fatalf("user ls:\n%s", r.stdout)
	}
	// bob's approval key.
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	kb, _ := sign.MarshalPrivateKey(key, nil)
	pb, _ := sign.MarshalPublicKey(&key.PublicKey)
	os.WriteFile(filepath.Join(dir, "bob.key"), kb, 0o600)
	os.WriteFile(filepath.Join(dir, "bob.pub"), pb, 0o644)
	must(cli(admin, "user", "key", "--name", "bob", filepath.Join(dir, "bob.pub")))
	if r := cli(bob, "user", "key", filepath.Join(dir, "bob.pub")); r.code != ExitFindings {
		t.Fatalf("a robot changing its own account: exit %d", r.code)
	}

	// alice signs and pushes a model.
	model := filepath.Join(dir, "bert")
	os.MkdirAll(filepath.Join(model, "tokenizer"), 0o755)
	os.WriteFile(filepath.Join(model, "model.safetensors"), []byte("weights"), 0o644)
	os.WriteFile(filepath.Join(model, "tokenizer", "vocab.json"), []byte(`{}`), 0o644)
	skey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	skb, _ := sign.MarshalPrivateKey(skey, nil)
	spb, _ := sign.MarshalPublicKey(&skey.PublicKey)
	os.WriteFile(filepath.Join(dir, "signer.key"), skb, 0o600)
	os.WriteFile(filepath.Join(dir, "signer.pub"), spb, 0o644)
	if r := runCLI(t, nil, "--config", "none", "sign", "--private-key", filepath.Join(dir, "signer.key"), model); r.code != 0 {
		t.Fatalf("sign: %s", r.stderr)
	}
	r := must(cli(alice, "push", model, "models/bert:v1"))
	if !strings.Contains(r.stdout, "attached model.sig") {
		t.Fatalf("push:\n%s", r.stdout)
	}
	// The default gate configuration trusts no signer: the gates reject
	// the model in a manual namespace, and pull says why.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r = must(cli(alice, "show", "models/bert:v1", "-o", "json"))
		var v registry.Version
		json.Unmarshal([]byte(r.stdout), &v)
		if v.State != "pending" || time.Now().After(deadline) {
			if v.State != "rejected" || !strings.Contains(v.Reason, "gate failed") {
				t.Fatalf("state %s (%s)", v.State, v.Reason)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	r = cli(alice, "pull", "models/bert:v1", filepath.Join(dir, "out"))
	if r.code != ExitFindings || !strings.Contains(r.stderr, "gate failed") {
		t.Fatalf("pull of a rejected model: exit %d\n%s", r.code, r.stderr)
	}
	if r := cli(bob, "approve", "models/bert:v1", "--key", filepath.Join(dir, "bob.key")); r.code != ExitFindings {
		t.Fatalf("approving a rejected version: exit %d %s", r.code, r.stderr)
	}
	if r := must(cli(alice, "ls", "models")); !strings.Contains(r.stdout, "rejected") || !strings.Contains(r.stdout, "modelpack") {
		t.Fatalf("ls:\n%s", r.stdout)
	}
	// Audit and fsck, locally and remotely.
	if r := must(cli(admin, "audit", "verify")); !strings.Contains(r.stdout, "intact") {
		t.Fatalf("audit verify:\n%s", r.stdout)
	}
	if r := must(cli(nil, "audit", "verify", "--data", data)); !strings.Contains(r.stdout, "intact") {
		t.Fatalf("audit verify --data:\n%s", r.stdout)
	}
	r = must(cli(nil, "audit", "export", "--data", data))
	if !strings.Contains(r.stdout, `"action":"push"`) || !strings.Contains(r.stdout, `"action":"gate"`) {
		t.Fatalf("audit export:\n%s", r.stdout)
	}
	if r := cli(alice, "audit", "export"); r.code != ExitFindings {
		t.Fatalf("a pusher read the audit log: exit %d", r.code)
	}
	if r := must(cli(nil, "fsck", "--data", data)); !strings.Contains(r.stdout, "agree") {
		t.Fatalf("fsck:\n%s", r.stdout)
	}
	// Revoking tokens.
	r = must(cli(alice, "token", "ls", "-o", "json"))
	var ts []registry.TokenInfo
	json.Unmarshal([]byte(r.stdout), &ts)
	if len(ts) != 1 {
		t.Fatalf("token ls: %s", r.stdout)
	}
	must(cli(alice, "token", "rm", ts[0].ID))
	if r := cli(alice, "ls"); r.code != ExitFindings {
		t.Fatalf("a revoked token still works: exit %d", r.code)
	}
}

// TestRegistryCLIApproveAndPull: with a namespace whose gate passes, the
// whole flow from push to a verified pull.
func TestRegistryCLIApproveAndPull(t *testing.T) {
	tr := newCLIRegistry(t)
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	kb, _ := sign.MarshalPrivateKey(key, nil)
	pb, _ := sign.MarshalPublicKey(&key.PublicKey)
	os.WriteFile(filepath.Join(dir, "bob.key"), kb, 0o600)
	os.WriteFile(filepath.Join(dir, "bob.pub"), pb, 0o644)
	cli := func(env map[string]string, args ...string) result {
		return runCLI(t, env, append([]string{"--config", "none", "registry"}, args...)...)
	}
	if r := cli(tr.admin, "user", "key", "--name", "bob", filepath.Join(dir, "bob.pub")); r.code != 0 {
		t.Fatal(r.stderr)
	}
	model := filepath.Join(dir, "m")
	os.MkdirAll(model, 0o755)
	os.WriteFile(filepath.Join(model, "model.gguf"), []byte("GGUF..."), 0o644)
	if r := cli(tr.alice, "push", model, "models/m:v1"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	waitState(t, tr.alice, "models/m:v1")
	if r := cli(tr.alice, "approve", "models/m:v1", "--key", filepath.Join(dir, "bob.key")); r.code != ExitFindings || !strings.Contains(r.stderr, "may not approve") {
		t.Fatalf("a pusher approving: %d %s", r.code, r.stderr)
	}
	if r := cli(tr.bob, "approve", "models/m:v1", "--key", filepath.Join(dir, "bob.key"), "--ttl", "24h"); r.code != 0 {
		t.Fatalf("approve: %s", r.stderr)
	}
	out := filepath.Join(dir, "out")
	r := cli(tr.alice, "pull", "models/m:v1", out, "--approver-key", filepath.Join(dir, "bob.pub"))
	if r.code != 0 || !strings.Contains(r.stdout, "approval: verified: approved by bob") {
		t.Fatalf("pull: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "model.gguf")); string(b) != "GGUF..." {
		t.Fatalf("pulled %q", b)
	}
	if r := cli(tr.bob, "revoke", "models/m:v1", "--reason", "licence problem"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r = cli(tr.alice, "pull", "models/m:v1", filepath.Join(dir, "out2"))
	if r.code != ExitFindings || !strings.Contains(r.stderr, "revoked by bob") {
		t.Fatalf("pull after revoke: %d %s", r.code, r.stderr)
	}
}

type cliRegistry struct{ alice, bob, admin map[string]string }

// newCLIRegistry runs a registry whose gate passes everything, in a
// manual namespace, with alice (pusher) and bob (approver).
func newCLIRegistry(t *testing.T) *cliRegistry {
	t.Helper()
	dir := t.TempDir()
	meta, blobs, err := openStores(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := registry.New(registry.Options{Meta: meta, Blobs: blobs, Gate: func(context.Context, gate.Artifact, gate.Config) (*gate.Result, error) {
		return &gate.Result{Version: "test", Allowed: true}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	hs := &http.Server{Addr: addr, Handler: srv.Handler()}
	go hs.ListenAndServe()
	t.Cleanup(func() { hs.Close(); srv.Close(); meta.Close() })
	secret, _, err := registry.Bootstrap(context.Background(), meta, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + addr
	for i := 0; i < 100; i++ {
		if resp, err := http.Get(url + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	admin := map[string]string{"AIGIS_REGISTRY": url, "AIGIS_TOKEN": secret}
	tok := map[string]map[string]string{}
	for u, role := range map[string]string{"alice": "pusher", "bob": "approver"} {
		for _, args := range [][]string{{"user", "add", u, "--robot"}, {"role", "set", u, "models", role}} {
			if r := runCLI(t, admin, append([]string{"--config", "none", "registry"}, args...)...); r.code != 0 {
				t.Fatal(r.stderr)
			}
		}
		r := runCLI(t, admin, "--config", "none", "registry", "token", "create", "--user", u, "-o", "json")
		var m map[string]any
		json.Unmarshal([]byte(r.stdout), &m)
		tok[u] = map[string]string{"AIGIS_REGISTRY": url, "AIGIS_TOKEN": m["token"].(string)}
	}
	return &cliRegistry{alice: tok["alice"], bob: tok["bob"], admin: admin}
}

func waitState(t *testing.T, env map[string]string, ref string) {
	t.Helper()
	for i := 0; i < 500; i++ {
		r := runCLI(t, env, "--config", "none", "registry", "show", ref, "-o", "json")
		var v registry.Version
		json.Unmarshal([]byte(r.stdout), &v)
		if v.GateDigest != "" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the gate never ran")
}

// TestRegistryServeGracefulShutdown: a pull in flight when the server is
// told to stop finishes whole; new connections are refused.
func TestRegistryServeGracefulShutdown(t *testing.T) {
	data := t.TempDir()
	addr := freePort(t)
	var out, errb syncBuffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		root := newRoot(env)
		root.SetArgs([]string{"--config", "none", "registry", "serve", "--data", data, "--listen", addr, "--gate", "ci=none"})
		done <- root.ExecuteContext(ctx)
	}()
	url := "http://" + addr
	for i := 0; ; i++ {
		if resp, err := http.Get(url + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if i > 400 {
			t.Fatal("serve did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := &registry.Client{Base: url, Token: adminToken(t, out.String())}
	blob := bytes.Repeat([]byte("0123456789abcdef"), 4<<20) // 64 MiB
	model := t.TempDir()
	os.WriteFile(filepath.Join(model, "model.bin"), blob, 0o644)
	if _, err := registry.PushDir(context.Background(), c, model, "ci/big", "v1"); err != nil {
		t.Fatal(err)
	}
	rc, n, err := c.Blob(context.Background(), "ci/big", digestOf(blob))
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 1<<20)
	if _, err := io.ReadFull(rc, first); err != nil {
		t.Fatal(err)
	}
	cancel() // SIGTERM
	time.Sleep(200 * time.Millisecond)
	rest, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || int64(len(first)+len(rest)) != n || digestOf(append(first, rest...)) != digestOf(blob) {
		t.Fatalf("the pull in flight was cut at shutdown: %d of %d bytes, %v", len(first)+len(rest), n, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("the stopped server still answers")
	}
	if !strings.Contains(errb.String(), "finishing requests in flight") {
		t.Errorf("no shutdown message:\n%s", errb.String())
	}
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// TestRegistryCLIRealGates: serve with a namespace that trusts one signer
// (--gate-config); a signed, licensed model passes the gates, waits for
// an approver, and pulls verified.
func TestRegistryCLIRealGates(t *testing.T) {
	dir := t.TempDir()
	skey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	skb, _ := sign.MarshalPrivateKey(skey, nil)
	spb, _ := sign.MarshalPublicKey(&skey.PublicKey)
	os.WriteFile(filepath.Join(dir, "signer.key"), skb, 0o600)
	os.WriteFile(filepath.Join(dir, "signer.pub"), spb, 0o644)
	cfg := "trust:\n  public_keys:\n    - |\n" + indent(string(spb), "      ") + "licenses: [MIT, Apache-2.0]\n"
	os.WriteFile(filepath.Join(dir, "models.yaml"), []byte(cfg), 0o644)
	os.WriteFile(filepath.Join(dir, "typo.yaml"), []byte("trusted:\n  public_keys: []\n"), 0o644)

	// A typo in a gate configuration is refused, not ignored.
	if r := runCLI(t, nil, "--config", "none", "registry", "serve", "--data", t.TempDir(), "--gate-config", "models="+filepath.Join(dir, "typo.yaml")); r.code != ExitError || !strings.Contains(r.stderr, "trusted") {
		t.Fatalf("a gate config with an unknown key: %d %s", r.code, r.stderr)
	}
	url, out := startServe(t, t.TempDir(), "--gate-config", "models="+filepath.Join(dir, "models.yaml"))
	admin := map[string]string{"AIGIS_REGISTRY": url, "AIGIS_TOKEN": adminToken(t, out)}
	cli := func(env map[string]string, args ...string) result {
		return runCLI(t, env, append([]string{"--config", "none", "registry"}, args...)...)
	}
	model := filepath.Join(dir, "m")
	os.MkdirAll(model, 0o755)
	os.WriteFile(filepath.Join(model, "config.json"), []byte(`{"model_type":"bert"}`), 0o644)
	os.WriteFile(filepath.Join(model, "README.md"), []byte("---\nlicense: mit\n---\n# m\n"), 0o644)
	if r := runCLI(t, nil, "--config", "none", "sign", "--private-key", filepath.Join(dir, "signer.key"), model); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := cli(admin, "push", model, "models/m:v1"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	waitState(t, admin, "models/m:v1")
	r := cli(admin, "show", "models/m:v1", "-o", "json")
	var v registry.Version
	json.Unmarshal([]byte(r.stdout), &v)
	if v.State != "pending" || v.Denial != "pending approval" {
		t.Fatalf("a signed model from the trusted signer: %s (%s)", v.State, v.Reason)
	}
	hasBOM := false
	for _, x := range v.Referrers {
		hasBOM = hasBOM || x.ArtifactType == registry.BOMArtifactType
	}
	if !hasBOM {
		t.Errorf("no AI-BOM attached: %+v", v.Referrers)
	}
}

func indent(s, pre string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(pre + l + "\n")
	}
	return b.String()
}
