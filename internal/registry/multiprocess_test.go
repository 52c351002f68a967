package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aigis-dev/aigis/internal/registry/store"
	"github.com/aigis-dev/aigis/internal/registry/store/fsblob"
	"github.com/aigis-dev/aigis/internal/registry/store/sqlite"
)

// TestTwoServersShareStores: two servers over one database file and one
// blob directory, as two processes would run them. An upload started on
// one is finished on the other, a push to one is pulled from the other,
// and concurrent pushes of one tag through both have one winner.
func TestTwoServersShareStores(t *testing.T) {
	a := newTestRegistry(t, Options{Modes: map[string]GateMode{"*": GateNone}})
	meta2, err := sqlite.Open(filepath.Join(a.Dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	blobs2, err := fsblob.Open(filepath.Join(a.Dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	s2, err := New(Options{Meta: meta2, Blobs: blobs2, Modes: map[string]GateMode{"*": GateNone}, AuditKey: a.o.AuditKey})
	if err != nil {
		t.Fatal(err)
	}
	hs2 := httptest.NewServer(s2.Handler())
	t.Cleanup(func() { hs2.Close(); s2.Close(); meta2.Close() })
	a.addUser(t, "u", "", store.Role{Namespace: "*", Role: RolePusher})
	tok := a.token(t, "u")
	c1 := &Client{Base: a.URL, Token: tok}
	c2 := &Client{Base: hs2.URL, Token: tok}
	ctx := context.Background()

	// Upload: POST and a PATCH on server 1, the final PUT on server 2.
	data := bytes.Repeat([]byte("shared"), 100000)
	resp, err := c1.request(ctx, "POST", "/v2/team/m/blobs/uploads/", nil, 0, nil)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("POST: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if st, err := raw(c1, "PATCH", loc, data[:300000], http.Header{"Content-Range": {"0-299999"}}); st != 202 || err != nil {
		t.Fatalf("PATCH on server 1: %d %v", st, err)
	}
	if st, err := raw(c2, "PUT", loc+"?digest="+sha(data), data[300000:], http.Header{"Content-Range": {fmt.Sprintf("300000-%d", len(data)-1)}}); st != 201 || err != nil {
		t.Fatalf("PUT on server 2: %d %v", st, err)
	}
	if ok, _ := c1.HasBlob(ctx, "team/m", sha(data)); !ok {
		t.Fatal("server 1 does not see the blob server 2 committed")
	}
	d, err := pushModel(t, c1, "team/m", "v1", tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, got, err := c2.Manifest(ctx, "team/m", "v1"); err != nil || got != d {
		t.Fatalf("pull from server 2: %s %v", got, err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := c1
			if i%2 == 1 {
				c = c2
			}
			_, err := pushModel(t, c, "team/m", "race", map[string][]byte{"w": []byte(fmt.Sprint(i))})
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !IsCode(err, codeDenied) {
				t.Errorf("push %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d winners across two servers", wins)
	}
	res, err := VerifyAudit(ctx, a.Meta, &a.o.AuditKey.PublicKey)
	if err != nil || !res.OK() {
		t.Fatalf("the audit chain written by two servers: %+v %v", res, err)
	}
}

// TestCheckSumRecorded: every committed blob carries the BLAKE3 check sum
// of its bytes, whether it came in one request, in chunks or as sha512;
// a blob without one (an older record) is re-hashed with its digest.
func TestCheckSumRecorded(t *testing.T) {
	tr := newTestRegistry(t, Options{Modes: map[string]GateMode{"*": GateNone}})
	tr.addUser(t, "u", "", store.Role{Namespace: "*", Role: RoleAdmin})
	c := &Client{Base: tr.URL, Token: tr.token(t, "u")}
	ctx := context.Background()
	mono := []byte("one request")
	if err := c.PushBlob(ctx, "team/m", bytes.NewReader(mono), int64(len(mono)), sha(mono)); err != nil {
		t.Fatal(err)
	}
	chunked := bytes.Repeat([]byte("chunk"), 1000)
	resp, _ := c.request(ctx, "POST", "/v2/team/m/blobs/uploads/", nil, 0, nil)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	raw(c, "PATCH", loc, chunked[:2000], nil)
	if st, _ := raw(c, "PUT", loc+"?digest="+sha(chunked), chunked[2000:], nil); st != 201 {
		t.Fatalf("chunked PUT: %d", st)
	}
	for _, b := range [][]byte{mono, chunked} {
		var check string
		tr.Meta.View(ctx, func(tx store.Tx) (err error) { _, check, err = tx.Blob(ctx, sha(b)); return })
		if check != checkSum(b) {
			t.Errorf("check sum %q, want %q", check, checkSum(b))
		}
	}
	// A record without a check sum falls back to the digest.
	if err := tr.Meta.Exec(`UPDATE blobs SET check_sum=''`); err != nil {
		t.Fatal(err)
	}
	d, err := pushModel(t, c, "team/m", "v1", map[string][]byte{"w.bin": chunked})
	if err != nil {
		t.Fatal(err)
	}
	_ = d
	rc, _, err := c.Blob(ctx, "team/m", sha(chunked))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, chunked) {
		t.Fatalf("served by digest: %v", err)
	}
	// fsck: a check sum that does not match the bytes (while the digest
	// does) is a changed record.
	if err := tr.Meta.Exec(`UPDATE blobs SET check_sum='blake3:00' WHERE digest=?`, sha(mono)); err != nil {
		t.Fatal(err)
	}
	rep, err := Fsck(ctx, tr.Meta, tr.Blobs, FsckOptions{})
	if err != nil || rep.OK() {
		t.Fatalf("fsck with a changed check sum: %+v %v", rep, err)
	}
}
