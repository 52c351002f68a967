// Package storetest is the suite every MetaStore and BlobStore
// implementation runs: the embedded ones now, PostgreSQL and OCI backends
// later. It pins the contracts the registry relies on: compare-and-swap
// tags and states, transactions that roll back, one winner among
// concurrent writers (also across two handles on one store, as two server
// processes would hold), and blobs that are whole or absent.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aigis-dev/aigis/internal/registry/store"
)

// Meta runs the MetaStore suite. open returns a fresh, empty store; second,
// if not nil, returns another handle on the store open returned last (a
// second process).
func Meta(t *testing.T, open func(t *testing.T) store.MetaStore, second func(t *testing.T) store.MetaStore) {
	ctx := context.Background()
	t.Run("ManifestsAndTags", func(t *testing.T) {
		s := open(t)
		m := &store.Manifest{Repo: "ns/a", Digest: "sha256:" + strings.Repeat("1", 64), MediaType: "application/vnd.oci.image.manifest.v1+json",
			Content: []byte(`{}`), Pusher: "alice", Created: time.Now(), State: store.Pending, Annotations: map[string]string{"k": "v"},
			Refs: []store.Ref{{Digest: "sha256:" + strings.Repeat("2", 64), Kind: "layer", Size: 3}}}
		must(t, s.Update(ctx, func(tx store.Tx) error {
			created, err := tx.PutManifest(ctx, m)
			if err != nil || !created {
				return fmt.Errorf("first put: created=%v err=%v", created, err)
			}
			created, err = tx.PutManifest(ctx, m)
			if err != nil || created {
				return fmt.Errorf("second put: created=%v err=%v", created, err)
			}
			if _, err := tx.PutTag(ctx, "ns/a", "v1", m.Digest, false); err != nil {
				return err
			}
			if _, err := tx.PutTag(ctx, "ns/a", "v1", "sha256:other", false); !errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("moving a tag without overwrite: %v, want ErrConflict", err)
			}
			return nil
		}))
		must(t, s.View(ctx, func(tx store.Tx) error {
			got, err := tx.Manifest(ctx, "ns/a", m.Digest)
			if err != nil {
				return err
			}
			if got.State != store.Pending || got.Annotations["k"] != "v" || len(got.Refs) != 1 || got.Refs[0].Size != 3 || !bytes.Equal(got.Content, m.Content) {
				return fmt.Errorf("read back %+v", got)
			}
			if _, err := tx.Manifest(ctx, "ns/b", m.Digest); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("another repository's manifest: %v, want ErrNotFound", err)
			}
			if ok, err := tx.BlobServable(ctx, "ns/a", m.Refs[0].Digest); ok || err != nil {
				return fmt.Errorf("a pending manifest's blob is servable: %v %v", ok, err)
			}
			d, err := tx.Tag(ctx, "ns/a", "v1")
			if err != nil || d != m.Digest {
				return fmt.Errorf("tag: %q %v", d, err)
			}
			return nil
		}))
		must(t, s.Update(ctx, func(tx store.Tx) error {
			if err := tx.SetState(ctx, "ns/a", m.Digest, []store.State{store.Approved}, store.StateChange{To: store.Revoked, By: "bob", Reason: "x"}); !errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("SetState from the wrong state: %v, want ErrConflict", err)
			}
			return tx.SetState(ctx, "ns/a", m.Digest, []store.State{store.Pending}, store.StateChange{To: store.Approved, By: "bob", Reason: "ok", Gate: []byte(`{"allowed":true}`), Expires: time.Unix(2e9, 0)})
		}))
		must(t, s.View(ctx, func(tx store.Tx) error {
			if ok, err := tx.BlobServable(ctx, "ns/a", m.Refs[0].Digest); !ok || err != nil {
				return fmt.Errorf("an approved manifest's blob is not servable: %v %v", ok, err)
			}
			if ok, _ := tx.BlobServable(ctx, "ns/b", m.Refs[0].Digest); ok {
				return errors.New("a blob is servable in a repository that does not reference it")
			}
			got, _ := tx.Manifest(ctx, "ns/a", m.Digest)
			if got.State != store.Approved || got.StateBy != "bob" || string(got.Gate) != `{"allowed":true}` || !got.Expires.Equal(time.Unix(2e9, 0)) {
				return fmt.Errorf("state %+v", got)
			}
			tags, err := tx.Tags(ctx, "ns/a", "", 0)
			if err != nil || len(tags) != 1 {
				return fmt.Errorf("tags %v %v", tags, err)
			}
			return nil
		}))
		for _, ref := range []string{"v1", m.Digest} {
			got, err := s.Pull(ctx, "ns/a", ref)
			if err != nil || got.Digest != m.Digest || got.State != store.Approved || !bytes.Equal(got.Content, m.Content) {
				t.Fatalf("Pull(%s): %+v %v", ref, got, err)
			}
		}
		for _, ref := range []string{"v2", "sha256:" + strings.Repeat("9", 64)} {
			if _, err := s.Pull(ctx, "ns/a", ref); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Pull(%s): %v, want ErrNotFound", ref, err)
			}
		}
		if _, err := s.Pull(ctx, "ns/b", "v1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Pull from another repository: %v", err)
		}
	})
	t.Run("Rollback", func(t *testing.T) {
		s := open(t)
		boom := errors.New("boom")
		err := s.Update(ctx, func(tx store.Tx) error {
			if _, err := tx.PutTag(ctx, "r", "t", "sha256:x", false); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update returned %v", err)
		}
		must(t, s.View(ctx, func(tx store.Tx) error {
			if _, err := tx.Tag(ctx, "r", "t"); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("a rolled back tag is visible: %v", err)
			}
			return nil
		}))
	})
	t.Run("TagsPaginate", func(t *testing.T) {
		s := open(t)
		must(t, s.Update(ctx, func(tx store.Tx) error {
			for _, tag := range []string{"c", "a", "b", "d"} {
				if _, err := tx.PutTag(ctx, "r", tag, "sha256:x", false); err != nil {
					return err
				}
			}
			return nil
		}))
		must(t, s.View(ctx, func(tx store.Tx) error {
			got, err := tx.Tags(ctx, "r", "a", 2)
			if err != nil || strings.Join(got, ",") != "b,c" {
				return fmt.Errorf("Tags after a, 2: %v %v", got, err)
			}
			return nil
		}))
	})
	t.Run("UploadCAS", func(t *testing.T) {
		s := open(t)
		must(t, s.Update(ctx, func(tx store.Tx) error {
			return tx.PutUpload(ctx, &store.Upload{ID: "u1", Repo: "r", Owner: "a", Created: time.Now(), Updated: time.Now()})
		}))
		must(t, s.Update(ctx, func(tx store.Tx) error { return tx.AdvanceUpload(ctx, "u1", 0, 10, []byte("h")) }))
		err := s.Update(ctx, func(tx store.Tx) error { return tx.AdvanceUpload(ctx, "u1", 0, 20, nil) })
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("advancing from a stale offset: %v, want ErrConflict", err)
		}
		err = s.Update(ctx, func(tx store.Tx) error { return tx.AdvanceUpload(ctx, "nope", 0, 20, nil) })
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("advancing an unknown upload: %v, want ErrNotFound", err)
		}
	})
	t.Run("UsersTokensRoles", func(t *testing.T) {
		s := open(t)
		must(t, s.Update(ctx, func(tx store.Tx) error {
			if err := tx.PutUser(ctx, &store.User{Name: "alice", Password: []byte("h"), Created: time.Now()}); err != nil {
				return err
			}
			if err := tx.PutToken(ctx, &store.Token{Hash: "th", User: "alice", Created: time.Now(), Expires: time.Now().Add(-time.Second)}); err != nil {
				return err
			}
			if err := tx.PutToken(ctx, &store.Token{Hash: "th2", User: "alice", Created: time.Now(), Expires: time.Now().Add(time.Hour)}); err != nil {
				return err
			}
			if err := tx.SetRole(ctx, store.Role{User: "alice", Namespace: "ns", Role: "reader"}); err != nil {
				return err
			}
			if err := tx.SetRole(ctx, store.Role{User: "alice", Namespace: "ns", Role: "pusher"}); err != nil {
				return err
			}
			return tx.DeleteExpiredTokens(ctx, time.Now())
		}))
		ss, err := s.Session(ctx, "th2")
		if err != nil || ss.User.Name != "alice" || len(ss.Roles) != 1 || ss.Roles[0].Role != "pusher" || ss.Token.Expires.Before(time.Now()) {
			t.Fatalf("Session: %+v %v", ss, err)
		}
		if _, err := s.Session(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Session of no token: %v", err)
		}
		must(t, s.View(ctx, func(tx store.Tx) error {
			if _, err := tx.Token(ctx, "th"); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("expired token kept: %v", err)
			}
			if tk, err := tx.Token(ctx, "th2"); err != nil || tk.User != "alice" {
				return fmt.Errorf("token: %+v %v", tk, err)
			}
			rs, err := tx.Roles(ctx, "alice")
			if err != nil || len(rs) != 1 || rs[0].Role != "pusher" {
				return fmt.Errorf("roles %+v %v", rs, err)
			}
			return nil
		}))
		must(t, s.Update(ctx, func(tx store.Tx) error { return tx.DeleteUser(ctx, "alice") }))
		must(t, s.View(ctx, func(tx store.Tx) error {
			if rs, _ := tx.Roles(ctx, "alice"); len(rs) != 0 {
				return errors.New("a deleted user's roles remain")
			}
			if _, err := tx.Token(ctx, "th2"); !errors.Is(err, store.ErrNotFound) {
				return errors.New("a deleted user's tokens remain")
			}
			return nil
		}))
	})
	t.Run("AuditAppendOnly", func(t *testing.T) {
		s := open(t)
		must(t, s.Update(ctx, func(tx store.Tx) error {
			for i := int64(1); i <= 3; i++ {
				if err := tx.AppendAudit(ctx, &store.AuditEntry{Seq: i, Time: time.Now(), Actor: "a", Action: "push", Subject: "r", Hash: fmt.Sprint(i)}); err != nil {
					return err
				}
			}
			return nil
		}))
		if err := s.Update(ctx, func(tx store.Tx) error {
			return tx.AppendAudit(ctx, &store.AuditEntry{Seq: 2, Time: time.Now(), Actor: "x", Action: "x", Hash: "x"})
		}); err == nil {
			t.Fatal("an audit row was written twice under one sequence number")
		}
		must(t, s.View(ctx, func(tx store.Tx) error {
			last, err := tx.LastAudit(ctx)
			if err != nil || last.Seq != 3 {
				return fmt.Errorf("last %+v %v", last, err)
			}
			n := 0
			return tx.Audit(ctx, 2, func(e *store.AuditEntry) error {
				n++
				if e.Seq != int64(n+1) {
					return fmt.Errorf("audit out of order: %d", e.Seq)
				}
				return nil
			})
		}))
	})
	t.Run("Hits", func(t *testing.T) {
		s := open(t)
		now := time.Now()
		var n int
		for i := 0; i < 3; i++ {
			must(t, s.Update(ctx, func(tx store.Tx) (err error) { n, err = tx.Hit(ctx, "k", now.Add(-time.Minute), now); return }))
		}
		if n != 3 {
			t.Fatalf("3 hits counted %d", n)
		}
		later := now.Add(2 * time.Minute)
		must(t, s.Update(ctx, func(tx store.Tx) (err error) { n, err = tx.Hit(ctx, "k", later.Add(-time.Minute), later); return }))
		if n != 1 {
			t.Fatalf("a hit in a new window counted %d", n)
		}
	})
	t.Run("ConcurrentTagOneWinner", func(t *testing.T) {
		s := open(t)
		handles := []store.MetaStore{s}
		if second != nil {
			handles = append(handles, second(t))
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		winners := 0
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				h := handles[i%len(handles)]
				err := h.Update(ctx, func(tx store.Tx) error {
					_, err := tx.PutTag(ctx, "r", "latest", fmt.Sprintf("sha256:%064d", i), false)
					return err
				})
				switch {
				case err == nil:
					mu.Lock()
					winners++
					mu.Unlock()
				case !errors.Is(err, store.ErrConflict):
					t.Errorf("writer %d: %v", i, err)
				}
			}(i)
		}
		wg.Wait()
		if winners != 1 {
			t.Fatalf("%d writers moved one tag, want exactly 1", winners)
		}
	})
	t.Run("ConcurrentCounters", func(t *testing.T) {
		s := open(t)
		handles := []store.MetaStore{s}
		if second != nil {
			handles = append(handles, second(t))
		}
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				h := handles[i%len(handles)]
				err := h.Update(ctx, func(tx store.Tx) error {
					last, err := tx.LastAudit(ctx)
					seq := int64(1)
					if err == nil {
						seq = last.Seq + 1
					} else if !errors.Is(err, store.ErrNotFound) {
						return err
					}
					return tx.AppendAudit(ctx, &store.AuditEntry{Seq: seq, Time: time.Now(), Actor: "a", Action: "x", Hash: "h"})
				})
				if err != nil {
					t.Errorf("appender %d: %v", i, err)
				}
			}(i)
		}
		wg.Wait()
		must(t, s.View(ctx, func(tx store.Tx) error {
			last, err := tx.LastAudit(ctx)
			if err != nil || last.Seq != 20 {
				return fmt.Errorf("20 read-modify-write appends ended at %+v %v", last, err)
			}
			return nil
		}))
	})
}

// Blobs runs the BlobStore suite against a fresh, empty store.
func Blobs(t *testing.T, open func(t *testing.T) store.BlobStore) {
	ctx := context.Background()
	digest := func(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }
	t.Run("UploadCommitRead", func(t *testing.T) {
		s := open(t)
		data := []byte("hello, registry")
		n, err := s.Append(ctx, "up1", 0, bytes.NewReader(data[:5]), -1)
		if err != nil || n != 5 {
			t.Fatal(n, err)
		}
		if n, err = s.Append(ctx, "up1", 5, bytes.NewReader(data[5:]), -1); err != nil || n != int64(len(data)-5) {
			t.Fatal(n, err)
		}
		d := digest(data)
		if _, err := s.Stat(ctx, d); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a blob is visible before its commit: %v", err)
		}
		must(t, s.Commit(ctx, "up1", int64(len(data)), d))
		b, err := s.Open(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(b)
		b.Close()
		if !bytes.Equal(got, data) || b.Size() != int64(len(data)) {
			t.Fatalf("read back %q", got)
		}
		var seen []string
		must(t, s.Walk(ctx, func(d string, _ int64) error { seen = append(seen, d); return nil }))
		if len(seen) != 1 || seen[0] != d {
			t.Fatalf("walk: %v", seen)
		}
		must(t, s.Delete(ctx, d))
		if _, err := s.Open(ctx, d); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted blob: %v", err)
		}
	})
	t.Run("Bounded", func(t *testing.T) {
		s := open(t)
		if _, err := s.Append(ctx, "up2", 0, strings.NewReader("0123456789"), 4); err == nil {
			t.Fatal("an upload beyond its bound was accepted")
		}
	})
	t.Run("NamesAreDigests", func(t *testing.T) {
		s := open(t)
		for _, d := range []string{"sha256:../../etc/passwd", "sha256:" + strings.Repeat("A", 64), "md5:" + strings.Repeat("a", 32), "../x"} {
			if _, err := s.Open(ctx, d); err == nil {
				t.Errorf("Open(%q) succeeded", d)
			}
		}
		for _, id := range []string{"../x", "a/b", ""} {
			if _, err := s.Append(ctx, id, 0, strings.NewReader("x"), -1); err == nil {
				t.Errorf("Append(%q) succeeded", id)
			}
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
