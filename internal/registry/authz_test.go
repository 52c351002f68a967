package registry

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aigis-dev/aigis/internal/registry/store"
)

// The roles the matrix exercises, as users: "anonymous" sends no
// credentials, "none" is a user with no role, "other" administers another
// namespace, "root" administers every namespace.
var matrixUsers = []string{"anonymous", "none", "reader", "pusher", "approver", "admin", "other", "root"}

type fixture struct {
	tr       *testRegistry
	root     *Client
	approved string // digest of team/model:v1, approved
	pending  string // digest of team/model:pending, gated and pending
	layer    string // a layer of the approved version
	pendBlob string // a layer only the pending version has
	n        int
	keys     map[string]*ecdsa.PrivateKey
	builder  *Client // pushes the versions the matrix approves, rejects and revokes
}

func newFixture(t *testing.T) (*fixture, map[string]*Client) {
	tr := newTestRegistry(t, Options{Gate: allowAll})
	roles := map[string][]store.Role{
		"none":     nil,
		"reader":   {{Namespace: "team", Role: RoleReader}},
		"pusher":   {{Namespace: "team", Role: RolePusher}},
		"approver": {{Namespace: "team", Role: RoleApprover}},
		"admin":    {{Namespace: "team", Role: RoleAdmin}},
		"other":    {{Namespace: "elsewhere", Role: RoleAdmin}},
		"root":     {{Namespace: "*", Role: RoleAdmin}},
	}
	clients := map[string]*Client{"anonymous": {Base: tr.URL}}
	for u, rs := range roles {
		tr.addUser(t, u, "", rs...)
		clients[u] = &Client{Base: tr.URL, Token: tr.token(t, u)}
	}
	tr.addUser(t, "builder", "", store.Role{Namespace: "team", Role: RolePusher})
	fx := &fixture{tr: tr, root: clients["root"], keys: map[string]*ecdsa.PrivateKey{}}
	fx.builder = &Client{Base: tr.URL, Token: tr.token(t, "builder")}
	var err error
	fx.approved, err = pushModel(t, fx.root, "team/model", "v1", tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	waitGate(t, tr, "team/model", fx.approved)
	fx.setState(t, fx.approved, store.Approved)
	fx.layer = sha(tinyModel["model.safetensors"])
	pend := map[string][]byte{"pending.bin": []byte("not yet approved")}
	fx.pending, err = pushModel(t, fx.root, "team/model", "pending", pend)
	if err != nil {
		t.Fatal(err)
	}
	waitGate(t, tr, "team/model", fx.pending)
	fx.pendBlob = sha(pend["pending.bin"])
	for _, u := range []string{"approver", "admin", "root", "pusher", "reader", "other", "none"} {
		fx.keys[u] = approverKey(t, tr, u)
	}
	return fx, clients
}

func (fx *fixture) setState(t *testing.T, digest string, st store.State) {
	t.Helper()
	ctx := context.Background()
	err := fx.tr.Meta.Update(ctx, func(tx store.Tx) error {
		return tx.SetState(ctx, "team/model", digest, nil, store.StateChange{To: st, By: "test", Reason: "fixture", Gate: []byte(`{"allowed":true}`)})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// fresh pushes a new pending (gated) version and returns its digest.
func (fx *fixture) fresh(t *testing.T) string {
	t.Helper()
	fx.n++
	d, err := pushModel(t, fx.builder, "team/model", fmt.Sprint("t", fx.n), map[string][]byte{"w.bin": []byte(fmt.Sprint("fresh", fx.n))})
	if err != nil {
		t.Fatal(err)
	}
	waitGate(t, fx.tr, "team/model", d)
	return d
}

// raw sends a request and returns the status.
func raw(c *Client, method, path string, body []byte, hdr http.Header) (int, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	resp, err := c.request(context.Background(), method, path, r, int64(len(body)), hdr)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// verdict classifies the outcome of one call: "allow", "deny" (403
// DENIED), "unauth" (401) or an unexpected error.
func verdict(status int, err error) string {
	var e *Error
	switch {
	case err == nil && status/100 == 2:
		return "allow"
	case errors.As(err, &e) && e.Status == 401, status == 401:
		return "unauth"
	case errors.As(err, &e) && e.Status == 403 && e.Code == codeDenied, status == 403:
		return "deny"
	case err == nil && status == 0:
		return "allow"
	}
	return fmt.Sprintf("unexpected (status %d, %v)", status, err)
}

type op struct {
	name  string
	allow []string // roles allowed; everyone else is denied (anonymous: 401)
	run   func(t *testing.T, fx *fixture, c *Client, user string) (int, error)
}

func TestAuthorizationMatrix(t *testing.T) {
	fx, clients := newFixtureWithKeys(t)
	readers := []string{"reader", "pusher", "approver", "admin", "root"}
	pushers := []string{"pusher", "admin", "root"}
	approvers := []string{"approver", "admin", "root"}
	admins := []string{"admin", "root"}
	authenticated := []string{"none", "reader", "pusher", "approver", "admin", "other", "root"}
	ops := []op{
		{"ping GET /v2/", authenticated, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			return raw(c, "GET", "/v2/", nil, nil)
		}},
		{"GET manifest (approved)", readers, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			_, _, _, err := c.Manifest(context.Background(), "team/model", "v1")
			return 0, err
		}},
		{"HEAD manifest (approved)", readers, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			return raw(c, "HEAD", "/v2/team/model/manifests/v1", nil, nil)
		}},
		{"HEAD manifest (pending version)", pushers, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			return raw(c, "HEAD", "/v2/team/model/manifests/pending", nil, nil)
		}},
		{"GET manifest (pending version)", nil, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			_, _, _, err := c.Manifest(context.Background(), "team/model", "pending")
			return 0, err
		}},
		{"GET blob (approved)", readers, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			rc, _, err := c.Blob(context.Background(), "team/model", fx.layer)
			if err == nil {
				rc.Close()
			}
			return 0, err
		}},
		{"HEAD blob (pending version)", pushers, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			return raw(c, "HEAD", "/v2/team/model/blobs/"+fx.pendBlob, nil, nil)
		}},
		{"GET blob (pending version)", admins, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			rc, _, err := c.Blob(context.Background(), "team/model", fx.pendBlob)
			if err == nil {
				rc.Close()
			}
			return 0, err
		}},
		{"GET tags/list", readers, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			return raw(c, "GET", "/v2/team/model/tags/list", nil, nil)
		}},
		{"GET referrers", readers, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			_, err := c.Referrers(context.Background(), "team/model", fx.approved, "")
			return 0, err
		}},
		{"POST upload", pushers, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			return raw(c, "POST", "/v2/team/model/blobs/uploads/", nil, nil)
		}},
		{"push blob (monolithic)", pushers, func(t *testing.T, fx *fixture, c *Client, u string) (int, error) {
			b := []byte("blob by " + u)
			return raw(c, "POST", "/v2/team/model/blobs/uploads/?digest="+sha(b), b, http.Header{"Content-Type": {"application/octet-stream"}})
		}},
		{"PUT manifest (new tag)", pushers, func(t *testing.T, fx *fixture, c *Client, u string) (int, error) {
			body := fx.manifestBytes(t, fx.approved)
			_, err := c.PushManifest(context.Background(), "team/model", "new-"+u, MediaTypeImageManifest, body)
			return 0, err
		}},
		{"PUT manifest (move an existing tag)", admins, func(t *testing.T, fx *fixture, c *Client, u string) (int, error) {
			tag := "moving-" + u
			b1 := fx.manifestBytes(t, fx.approved)
			if _, err := fx.root.PushManifest(context.Background(), "team/model", tag, MediaTypeImageManifest, b1); err != nil {
				t.Fatal(err)
			}
			b2 := fx.manifestBytes(t, fx.pending)
			_, err := c.PushManifest(context.Background(), "team/model", tag, MediaTypeImageManifest, b2)
			return 0, err
		}},
		{"DELETE manifest", admins, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			d := fx.fresh(t)
			return raw(c, "DELETE", "/v2/team/model/manifests/"+d, nil, nil)
		}},
		{"DELETE tag", admins, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			fx.fresh(t)
			return raw(c, "DELETE", fmt.Sprintf("/v2/team/model/manifests/t%d", fx.n), nil, nil)
		}},
		{"DELETE blob", admins, func(t *testing.T, fx *fixture, c *Client, u string) (int, error) {
			b := []byte("to delete " + u)
			if err := fx.root.PushBlob(context.Background(), "team/model", bytes.NewReader(b), int64(len(b)), sha(b)); err != nil {
				t.Fatal(err)
			}
			return raw(c, "DELETE", "/v2/team/model/blobs/"+sha(b), nil, nil)
		}},
		{"approve", approvers, func(t *testing.T, fx *fixture, c *Client, u string) (int, error) {
			d := fx.fresh(t)
			k := fx.keys[u]
			if k == nil {
				k = fx.keys["root"]
			}
			env := approval(t, fx.root, k, u, "team/model", d, time.Hour)
			return 0, c.API(context.Background(), "POST", "approve", ApproveRequest{Ref: "team/model@" + d, Envelope: env}, nil)
		}},
		{"reject", approvers, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			d := fx.fresh(t)
			return 0, c.API(context.Background(), "POST", "reject", DecideRequest{Ref: "team/model@" + d, Reason: "no"}, nil)
		}},
		{"revoke", approvers, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			d := fx.fresh(t)
			fx.setState(t, d, store.Approved)
			return 0, c.API(context.Background(), "POST", "revoke", DecideRequest{Ref: "team/model@" + d, Reason: "bad"}, nil)
		}},
		{"show version", readers, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			return 0, c.API(context.Background(), "GET", "version?ref=team/model:v1", nil, &Version{})
		}},
		{"grant a role in the namespace", admins, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			return 0, c.API(context.Background(), "POST", "roles", map[string]string{"user": "none", "namespace": "team", "role": "reader"}, nil)
		}},
		{"grant a role on every namespace", []string{"root"}, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			return 0, c.API(context.Background(), "POST", "roles", map[string]string{"user": "none", "namespace": "*", "role": "reader"}, nil)
		}},
		{"list users", []string{"root"}, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			return 0, c.API(context.Background(), "GET", "users", nil, nil)
		}},
		{"create a user", []string{"root"}, func(t *testing.T, fx *fixture, c *Client, u string) (int, error) {
			return 0, c.API(context.Background(), "POST", "users", UserRequest{Name: "new-" + u, Password: "long enough password"}, nil)
		}},
		{"token for another user", []string{"root"}, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			return 0, c.API(context.Background(), "POST", "tokens", TokenRequest{User: "builder", TTL: "1h"}, nil)
		}},
		{"own token", authenticated, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			return 0, c.API(context.Background(), "POST", "tokens", TokenRequest{TTL: "1h"}, nil)
		}},
		{"read the audit log", []string{"root"}, func(t *testing.T, fx *fixture, c *Client, _ string) (int, error) {
			return 0, c.API(context.Background(), "GET", "audit", nil, io.Discard)
		}},
	}
	counts := map[string]int{}
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			for _, u := range matrixUsers {
				want := "deny"
				if u == "anonymous" {
					want = "unauth"
				}
				for _, a := range o.allow {
					if a == u {
						want = "allow"
					}
				}
				got := verdict(o.run(t, fx, clients[u], u))
				counts[want]++
				if got != want {
					t.Errorf("%s as %s: %s, want %s", o.name, u, got, want)
				}
			}
		})
	}
	t.Logf("authorization matrix: %d operations x %d roles: %d allowed, %d denied (403), %d unauthenticated (401)",
		len(ops), len(matrixUsers), counts["allow"], counts["deny"], counts["unauth"])
}

func newFixtureWithKeys(t *testing.T) (*fixture, map[string]*Client) {
	return newFixture(t)
}

// manifestBytes reads a manifest's bytes straight from the store.
func (fx *fixture) manifestBytes(t *testing.T, digest string) []byte {
	t.Helper()
	ctx := context.Background()
	var m *store.Manifest
	if err := fx.tr.Meta.View(ctx, func(tx store.Tx) (err error) { m, err = tx.Manifest(ctx, "team/model", digest); return }); err != nil {
		t.Fatal(err)
	}
	return m.Content
}
