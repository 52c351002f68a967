package fsblob

import (
	"testing"

	"github.com/aigis-dev/aigis/internal/registry/store"
	"github.com/aigis-dev/aigis/internal/registry/store/storetest"
)

func TestSuite(t *testing.T) {
	storetest.Blobs(t, func(t *testing.T) store.BlobStore {
		s, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
