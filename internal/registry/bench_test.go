package registry

import (
	"context"
	"testing"

	"github.com/aigis-dev/aigis/internal/registry/store"
)

// BenchmarkManifestGet is the hot path of a pull: authenticate a bearer
// token, resolve a tag, check the state, re-hash the manifest, audit.
func BenchmarkManifestGet(b *testing.B) {
	t := b
	tr := newTestRegistry(t, Options{Modes: map[string]GateMode{"*": GateNone}})
	tr.addUser(t, "u", "", store.Role{Namespace: "*", Role: RoleAdmin})
	c := &Client{Base: tr.URL, Token: tr.token(t, "u")}
	if _, err := pushModel(t, c, "team/m", "v1", tinyModel); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, _, err := c.Manifest(ctx, "team/m", "v1"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
