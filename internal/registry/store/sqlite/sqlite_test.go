package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/aigis-dev/aigis/internal/registry/store"
	"github.com/aigis-dev/aigis/internal/registry/store/storetest"
)

func TestSuite(t *testing.T) {
	var last string
	open := func(t *testing.T) store.MetaStore {
		last = filepath.Join(t.TempDir(), "meta.db")
		d, err := Open(last)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	second := func(t *testing.T) store.MetaStore {
		d, err := Open(last)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	storetest.Meta(t, open, second)
}

func TestAuditTriggers(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Exec(`INSERT INTO audit(seq,time,actor,action,subject,hash) VALUES(1,0,'a','b','c','h')`); err != nil {
		t.Fatal(err)
	}
	if err := d.Exec(`UPDATE audit SET actor='x'`); err == nil {
		t.Error("an audit row was updated")
	}
	if err := d.Exec(`DELETE FROM audit`); err == nil {
		t.Error("an audit row was deleted")
	}
}
