package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aigis-dev/aigis/internal/registry/store"
)

// counts is how much the stores hold, to show a refusal stored nothing.
func counts(t *testing.T, tr *testRegistry) string {
	t.Helper()
	ctx := context.Background()
	var nb, nm, nt int
	err := tr.Meta.View(ctx, func(tx store.Tx) error {
		tx.Blobs(ctx, func(string, int64, string) error { nb++; return nil })
		ms, err := tx.Manifests(ctx, store.ManifestFilter{})
		nm = len(ms)
		tx.AllTags(ctx, func(store.TagInfo) error { nt++; return nil })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	tr.Blobs.Walk(ctx, func(string, int64) error { files++; return nil })
	return fmt.Sprintf("%d blob records, %d blob files, %d manifests, %d tags", nb, files, nm, nt)
}

// TestCrossRepositoryBlobRead pins the zot CVE-2024-39897 class: a blob
// stored once for the whole registry must not be readable, by digest, from
// a repository that never held it.
func TestCrossRepositoryBlobRead(t *testing.T) {
	tr := newTestRegistry(t, Options{Modes: map[string]GateMode{"*": GateNone}})
	tr.addUser(t, "secret-owner", "", store.Role{Namespace: "secret", Role: RoleAdmin})
	tr.addUser(t, "mallory", "", store.Role{Namespace: "team", Role: RoleAdmin})
	owner := &Client{Base: tr.URL, Token: tr.token(t, "secret-owner")}
	mallory := &Client{Base: tr.URL, Token: tr.token(t, "mallory")}
	ctx := context.Background()
	secret := map[string][]byte{"weights.bin": []byte("proprietary weights")}
	if _, err := pushModel(t, owner, "secret/model", "v1", secret); err != nil {
		t.Fatal(err)
	}
	d := sha(secret["weights.bin"])
	for _, repo := range []string{"team/model", "team/anything"} {
		if _, _, err := mallory.Blob(ctx, repo, d); !IsCode(err, codeBlobUnknown) {
			t.Errorf("GET %s/blobs/<secret digest>: %v, want BLOB_UNKNOWN", repo, err)
		}
		if ok, _ := mallory.HasBlob(ctx, repo, d); ok {
			t.Errorf("HEAD %s/blobs/<secret digest> says it exists", repo)
		}
	}
	if _, _, err := mallory.Blob(ctx, "secret/model", d); err == nil {
		t.Error("mallory read the secret repository")
	}
	// Referencing the digest in a manifest without uploading the bytes
	// does not make them hers either.
	layers := []Descriptor{{MediaType: ModelPackWeightRaw, Digest: d, Size: int64(len(secret["weights.bin"]))}}
	cfg := []byte(`{}`)
	mallory.PushBlob(ctx, "team/model", bytes.NewReader(cfg), 2, sha(cfg))
	body, _ := ModelPackManifest(Descriptor{MediaType: ModelPackConfigType, Digest: sha(cfg), Size: 2}, layers, nil)
	if _, err := mallory.PushManifest(ctx, "team/model", "stolen", MediaTypeImageManifest, body); !IsCode(err, codeManifestBlobUnknown) {
		t.Errorf("a manifest naming another repository's blob: %v, want MANIFEST_BLOB_UNKNOWN", err)
	}
	if _, _, err := mallory.Blob(ctx, "team/model", d); err == nil {
		t.Error("the secret blob became readable through a manifest")
	}
}

// TestCrossRepositoryMount: mounting needs read access to the source; a
// refused mount falls back to an upload and links nothing.
func TestCrossRepositoryMount(t *testing.T) {
	tr := newTestRegistry(t, Options{Modes: map[string]GateMode{"*": GateNone}})
	tr.addUser(t, "secret-owner", "", store.Role{Namespace: "secret", Role: RoleAdmin})
	tr.addUser(t, "mallory", "", store.Role{Namespace: "team", Role: RoleAdmin})
	tr.addUser(t, "friend", "", store.Role{Namespace: "team", Role: RolePusher}, store.Role{Namespace: "secret", Role: RoleReader})
	owner := &Client{Base: tr.URL, Token: tr.token(t, "secret-owner")}
	mallory := &Client{Base: tr.URL, Token: tr.token(t, "mallory")}
	friend := &Client{Base: tr.URL, Token: tr.token(t, "friend")}
	ctx := context.Background()
	secret := map[string][]byte{"weights.bin": []byte("proprietary weights")}
	if _, err := pushModel(t, owner, "secret/model", "v1", secret); err != nil {
		t.Fatal(err)
	}
	d := sha(secret["weights.bin"])
	for _, q := range []string{"?mount=" + d + "&from=secret/model", "?mount=" + d, "?mount=" + d + "&from=secret/../secret/model"} {
		status, _ := raw(mallory, "POST", "/v2/team/model/blobs/uploads/"+q, nil, nil)
		if status != http.StatusAccepted {
			t.Errorf("mount %s by mallory: %d, want 202 (an upload, not a mount)", q, status)
		}
		if _, _, err := mallory.Blob(ctx, "team/model", d); err == nil {
			t.Errorf("after mount %s the secret blob is readable in team/model", q)
		}
	}
	status, _ := raw(friend, "POST", "/v2/team/model/blobs/uploads/?mount="+d+"&from=secret/model", nil, nil)
	if status != http.StatusCreated {
		t.Fatalf("a mount by a reader of the source: %d, want 201", status)
	}
	if ok, _ := friend.HasBlob(ctx, "team/model", d); !ok {
		t.Fatal("the mounted blob is not in team/model")
	}
	if !auditActions(t, tr)["mount-denied"] {
		t.Error("refused mounts are not audited")
	}
}

// TestPushOnlyCannotOverwriteTag pins the second known registry bug: a
// push-only identity moving an existing tag to other content.
func TestPushOnlyCannotOverwriteTag(t *testing.T) {
	tr := newTestRegistry(t, Options{Modes: map[string]GateMode{"*": GateNone}})
	tr.addUser(t, "pusher", "", store.Role{Namespace: "team", Role: RolePusher})
	tr.addUser(t, "admin", "", store.Role{Namespace: "team", Role: RoleAdmin})
	p := &Client{Base: tr.URL, Token: tr.token(t, "pusher")}
	a := &Client{Base: tr.URL, Token: tr.token(t, "admin")}
	ctx := context.Background()
	d1, err := pushModel(t, p, "team/model", "v1", tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	// Pushing the same content again under the same tag is fine.
	if _, err := pushModel(t, p, "team/model", "v1", tinyModel); err != nil {
		t.Fatalf("re-pushing identical content: %v", err)
	}
	evil := map[string][]byte{"model.safetensors": []byte("backdoored")}
	_, err = pushModel(t, p, "team/model", "v1", evil)
	wantDenied(t, err, "moving it needs the admin role")
	// Nor through ?tag= on a push by digest.
	d2, err := pushModel(t, p, "team/model", "other", evil)
	if err != nil {
		t.Fatal(err)
	}
	body, _, _, _ := p.Manifest(ctx, "team/model", d2)
	status, _ := raw(p, "PUT", "/v2/team/model/manifests/"+d2+"?tag=v1", body, http.Header{"Content-Type": {MediaTypeImageManifest}})
	if status != http.StatusForbidden {
		t.Errorf("?tag=v1 on a push by digest: %d, want 403", status)
	}
	// Nor by deleting the tag first.
	if status, _ := raw(p, "DELETE", "/v2/team/model/manifests/v1", nil, nil); status != http.StatusForbidden {
		t.Errorf("pusher deleting a tag: %d, want 403", status)
	}
	_, _, got, _ := p.Manifest(ctx, "team/model", "v1")
	if got != d1 {
		t.Fatalf("tag v1 moved to %s", got)
	}
	// An admin may move it, and the audit log says from where.
	if _, err := pushModel(t, a, "team/model", "v1", evil); err != nil {
		t.Fatalf("admin moving a tag: %v", err)
	}
}

func TestConcurrentTagPushOneWinner(t *testing.T) {
	tr := newTestRegistry(t, Options{Modes: map[string]GateMode{"*": GateNone}})
	tr.addUser(t, "pusher", "", store.Role{Namespace: "team", Role: RolePusher})
	p := &Client{Base: tr.URL, Token: tr.token(t, "pusher")}
	const n = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []string
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d, err := pushModel(t, p, "team/model", "latest", map[string][]byte{"w.bin": []byte(fmt.Sprint("candidate ", i))})
			switch {
			case err == nil:
				mu.Lock()
				winners = append(winners, d)
				mu.Unlock()
			case !IsCode(err, codeDenied):
				t.Errorf("pusher %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d pushes of one tag won, want exactly 1", len(winners))
	}
	_, _, got, err := p.Manifest(context.Background(), "team/model", "latest")
	if err != nil || got != winners[0] {
		t.Fatalf("the tag points to %s (%v), the winner was %s", got, err, winners[0])
	}
}

// TestBadInputRefused: each malformed request gets the OCI error code the
// spec names, and stores nothing.
func TestBadInputRefused(t *testing.T) {
	tr := newTestRegistry(t, Options{Modes: map[string]GateMode{"*": GateNone}, MaxBlob: 1 << 20, MaxManifest: 64 << 10})
	tr.addUser(t, "u", "", store.Role{Namespace: "*", Role: RoleAdmin})
	c := &Client{Base: tr.URL, Token: tr.token(t, "u")}
	ctx := context.Background()
	cfg := []byte(`{}`)
	if err := c.PushBlob(ctx, "team/m", bytes.NewReader(cfg), 2, sha(cfg)); err != nil {
		t.Fatal(err)
	}
	good, _ := ModelPackManifest(Descriptor{MediaType: ModelPackConfigType, Digest: sha(cfg), Size: 2}, []Descriptor{}, nil)
	ct := http.Header{"Content-Type": {MediaTypeImageManifest}}
	octet := http.Header{"Content-Type": {"application/octet-stream"}}
	unknown := sha([]byte("never pushed"))
	big := bytes.Repeat([]byte("x"), 2<<20)
	cases := []struct {
		name, method, path string
		body               []byte
		hdr                http.Header
		status             int
		code               string
	}{
		{"manifest that is not JSON", "PUT", "/v2/team/m/manifests/v1", []byte("{not json"), ct, 400, codeManifestInvalid},
		{"manifest with trailing data", "PUT", "/v2/team/m/manifests/v1", append(append([]byte{}, good...), []byte("{}")...), ct, 400, codeManifestInvalid},
		{"manifest without config", "PUT", "/v2/team/m/manifests/v1", []byte(`{"schemaVersion":2,"mediaType":"` + MediaTypeImageManifest + `","layers":[]}`), ct, 400, codeManifestInvalid},
		{"manifest schemaVersion 1", "PUT", "/v2/team/m/manifests/v1", bytes.Replace(good, []byte(`"schemaVersion":2`), []byte(`"schemaVersion":1`), 1), ct, 400, codeManifestInvalid},
		{"manifest with a bad layer digest", "PUT", "/v2/team/m/manifests/v1", []byte(`{"schemaVersion":2,"mediaType":"` + MediaTypeImageManifest + `","config":{"mediaType":"a/b","digest":"` + sha(cfg) + `","size":2},"layers":[{"mediaType":"a/b","digest":"sha256:xyz","size":1}]}`), ct, 400, codeManifestInvalid},
		{"manifest naming an unknown blob", "PUT", "/v2/team/m/manifests/v1", []byte(`{"schemaVersion":2,"mediaType":"` + MediaTypeImageManifest + `","config":{"mediaType":"a/b","digest":"` + unknown + `","size":12}}`), ct, 400, codeManifestBlobUnknown},
		{"manifest with a wrong blob size", "PUT", "/v2/team/m/manifests/v1", []byte(`{"schemaVersion":2,"mediaType":"` + MediaTypeImageManifest + `","config":{"mediaType":"a/b","digest":"` + sha(cfg) + `","size":3}}`), ct, 400, codeManifestInvalid},
		{"manifest whose Content-Type differs from its mediaType", "PUT", "/v2/team/m/manifests/v1", good, http.Header{"Content-Type": {MediaTypeImageIndex}}, 400, codeManifestInvalid},
		{"manifest of an unsupported media type", "PUT", "/v2/team/m/manifests/v1", []byte(`{"schemaVersion":2,"mediaType":"text/plain"}`), http.Header{"Content-Type": {"text/plain"}}, 415, codeManifestInvalid},
		{"manifest under the wrong digest", "PUT", "/v2/team/m/manifests/" + unknown, good, ct, 400, codeDigestInvalid},
		{"manifest under an md5 digest", "PUT", "/v2/team/m/manifests/md5:d41d8cd98f00b204e9800998ecf8427e", good, ct, 400, codeDigestInvalid},
		{"manifest under an invalid tag", "PUT", "/v2/team/m/manifests/-bad", good, ct, 400, codeManifestInvalid},
		{"oversized manifest", "PUT", "/v2/team/m/manifests/v1", bytes.Repeat([]byte(" "), 65<<10), ct, 413, codeSizeInvalid},
		{"blob under the wrong digest", "POST", "/v2/team/m/blobs/uploads/?digest=" + unknown, []byte("some bytes"), octet, 400, codeDigestInvalid},
		{"blob with an invalid digest", "POST", "/v2/team/m/blobs/uploads/?digest=sha256:zz", []byte("some bytes"), octet, 400, codeDigestInvalid},
		{"oversized blob", "POST", "/v2/team/m/blobs/uploads/?digest=" + sha(big), big, octet, 413, codeSizeInvalid},
		{"name with ..", "GET", "/v2/team/../etc/manifests/v1", nil, nil, 400, codeNameInvalid},
		{"name with an encoded ..", "GET", "/v2/team/%2e%2e/etc/manifests/v1", nil, nil, 400, codeNameInvalid},
		{"name with //", "PUT", "/v2/team//m/manifests/v1", good, ct, 400, codeNameInvalid},
		{"name in upper case", "PUT", "/v2/Team/M/manifests/v1", good, ct, 400, codeNameInvalid},
		{"name with a backslash", "GET", "/v2/team/..%5cetc/manifests/v1", nil, nil, 400, codeNameInvalid},
		{"absolute name", "GET", "/v2//etc/passwd/manifests/v1", nil, nil, 400, codeNameInvalid},
		{"name too long", "GET", "/v2/" + strings.Repeat("a/", 130) + "b/manifests/v1", nil, nil, 400, codeNameInvalid},
		{"upload unknown", "PATCH", "/v2/team/m/blobs/uploads/deadbeef", []byte("x"), octet, 404, codeBlobUploadUnknown},
		{"upload id with a path", "PUT", "/v2/team/m/blobs/uploads/..%2f..%2fx?digest=" + unknown, []byte("x"), octet, 404, codeBlobUploadUnknown},
	}
	before := counts(t, tr)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r io.Reader
			if tc.body != nil {
				r = bytes.NewReader(tc.body)
			}
			resp, err := c.request(ctx, tc.method, tc.path, r, int64(len(tc.body)), tc.hdr)
			if err != nil {
				t.Fatal(err)
			}
			err = readError(resp)
			var e *Error
			if !errors.As(err, &e) || e.Status != tc.status || e.Code != tc.code {
				t.Errorf("got %v (status %d), want %d %s", err, resp.StatusCode, tc.status, tc.code)
			}
		})
	}
	if after := counts(t, tr); after != before {
		t.Errorf("refused requests stored something: before %s, after %s", before, after)
	}
}

// TestInterruptedPushLeavesNothing: a client that dies half way through
// a blob leaves no blob, and a manifest over it cannot be pushed.
func TestInterruptedPushLeavesNothing(t *testing.T) {
	tr := newTestRegistry(t, Options{Modes: map[string]GateMode{"*": GateNone}})
	tr.addUser(t, "u", "", store.Role{Namespace: "*", Role: RoleAdmin})
	c := &Client{Base: tr.URL, Token: tr.token(t, "u")}
	ctx := context.Background()
	data := bytes.Repeat([]byte("model"), 1<<20)
	pr, pw := io.Pipe()
	go func() {
		pw.Write(data[:len(data)/2])
		pw.CloseWithError(errors.New("client killed"))
	}()
	if err := c.PushBlob(ctx, "team/m", pr, int64(len(data)), sha(data)); err == nil {
		t.Fatal("a cut upload succeeded")
	}
	if ok, _ := c.HasBlob(ctx, "team/m", sha(data)); ok {
		t.Fatal("half a blob is visible")
	}
	rep, err := Fsck(ctx, tr.Meta, tr.Blobs, FsckOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("fsck after a cut upload: %+v %v", rep, err)
	}
}

func TestTokenFlowAndLoginLimits(t *testing.T) {
	tr := newTestRegistry(t, Options{MaxUserFailures: 5})
	tr.addUser(t, "alice", "correct horse battery", store.Role{Namespace: "team", Role: RoleReader})
	anon := &Client{Base: tr.URL}
	resp, err := anon.request(context.Background(), "GET", "/v2/team/m/manifests/v1", nil, -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ch := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != 401 || !strings.Contains(ch, `Bearer realm="`+tr.URL+`/token"`) || !strings.Contains(ch, `scope="repository:team/m:pull"`) {
		t.Fatalf("challenge: %d %q", resp.StatusCode, ch)
	}
	get := func(user, pw string) (int, string) {
		req, _ := http.NewRequest("GET", tr.URL+"/token?service=aigis&scope=repository:team/m:pull", nil)
		req.SetBasicAuth(user, pw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Token string `json:"token"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Token
	}
	status, tok := get("alice", "correct horse battery")
	if status != 200 || tok == "" {
		t.Fatalf("token endpoint: %d", status)
	}
	if st, _ := raw(&Client{Base: tr.URL, Token: tok}, "GET", "/v2/", nil, nil); st != 200 {
		t.Fatalf("bearer token: %d", st)
	}
	if st, _ := raw(&Client{Base: tr.URL, Token: tok + "x"}, "GET", "/v2/", nil, nil); st != 401 {
		t.Fatalf("a forged token: %d", st)
	}
	// Failed logins are limited per user: after the limit even the right
	// password is refused for the window.
	for i := 0; i < 5; i++ {
		if st, _ := get("alice", "wrong"); st != 401 {
			t.Fatalf("failed login %d: %d", i, st)
		}
	}
	if st, _ := get("alice", "correct horse battery"); st != 429 {
		t.Fatalf("login after 5 failures: %d, want 429", st)
	}
	if st, _ := raw(&Client{Base: tr.URL, Username: "alice", Password: "correct horse battery"}, "GET", "/v2/", nil, nil); st != 429 {
		t.Fatalf("basic auth after 5 failures: %d, want 429", st)
	}
	// The token issued before still works: the limit is on logins.
	if st, _ := raw(&Client{Base: tr.URL, Token: tok}, "GET", "/v2/", nil, nil); st != 200 {
		t.Fatalf("bearer token during the lockout: %d", st)
	}
	acts := auditActions(t, tr)
	for _, a := range []string{"login", "login-failed", "login-limited"} {
		if !acts[a] {
			t.Errorf("no %s row in the audit log", a)
		}
	}
}
