package registry

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/aigis-dev/aigis/internal/registry/store"
	"github.com/aigis-dev/aigis/internal/registry/store/fsblob"
	"github.com/aigis-dev/aigis/internal/registry/store/sqlite"
)

// testRegistry is a server on loopback with its stores.
type testRegistry struct {
	*Server
	URL   string
	Host  string
	Meta  *sqlite.DB
	Blobs *fsblob.Store
	Dir   string
	http  *httptest.Server
}

func newTestRegistry(t testing.TB, o Options) *testRegistry {
	t.Helper()
	dir := t.TempDir()
	meta, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := fsblob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	o.Meta, o.Blobs = meta, blobs
	if o.AuditKey == nil {
		o.AuditKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	tr := &testRegistry{Server: s, URL: hs.URL, Host: hs.Listener.Addr().String(), Meta: meta, Blobs: blobs, Dir: dir, http: hs}
	t.Cleanup(func() {
		hs.Close()
		s.Close()
		meta.Close()
	})
	return tr
}

// addUser creates a user with a password and roles ("ns=role").
func (tr *testRegistry) addUser(t testing.TB, name, password string, roles ...store.Role) {
	t.Helper()
	ctx := context.Background()
	err := tr.Meta.Update(ctx, func(tx store.Tx) error {
		u := &store.User{Name: name, Created: time.Now()}
		if password != "" {
			u.Password = HashPassword(password)
		}
		if err := tx.PutUser(ctx, u); err != nil {
			return err
		}
		for _, r := range roles {
			r.User = name
			if err := tx.SetRole(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// token issues a token for a user directly.
func (tr *testRegistry) token(t testing.TB, user string) string {
	t.Helper()
	secret, hash := NewSecret()
	ctx := context.Background()
	err := tr.Meta.Update(ctx, func(tx store.Tx) error {
		return tx.PutToken(ctx, &store.Token{Hash: hash, User: user, Created: time.Now(), Expires: time.Now().Add(1000 * time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

var _ = http.StatusOK
