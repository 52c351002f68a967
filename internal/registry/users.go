package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aigis-dev/aigis/internal/registry/store"
)

// AdminUser is the account Bootstrap creates.
const AdminUser = "admin"

// Bootstrap creates the first administrator when the registry has no
// user, and returns its token secret (shown once, stored only hashed).
// created is false when users exist already.
func Bootstrap(ctx context.Context, meta store.MetaStore, ttl time.Duration) (secret string, created bool, err error) {
	err = meta.Update(ctx, func(tx store.Tx) error {
		us, err := tx.Users(ctx)
		if err != nil || len(us) > 0 {
			return err
		}
		now := time.Now()
		if err := tx.PutUser(ctx, &store.User{Name: AdminUser, Created: now}); err != nil {
			return err
		}
		if err := tx.SetRole(ctx, store.Role{User: AdminUser, Namespace: "*", Role: RoleAdmin}); err != nil {
			return err
		}
		var hash string
		secret, hash = NewSecret()
		if err := tx.PutToken(ctx, &store.Token{Hash: hash, User: AdminUser, Description: "bootstrap", Created: now, Expires: now.Add(ttl)}); err != nil {
			return err
		}
		created = true
		return appendAuditTx(ctx, tx, "bootstrap", "user-create", AdminUser, map[string]any{"role": "*:admin", "token_expires": now.Add(ttl).UTC().Format(time.RFC3339)})
	})
	return secret, created, err
}

// appendAuditTx appends an audit row outside a Server (bootstrap, CLI
// maintenance): no checkpoint key.
func appendAuditTx(ctx context.Context, tx store.Tx, actor, action, subject string, details any) error {
	s := &Server{o: Options{Now: time.Now, CheckpointEvery: 1 << 62}}
	return s.appendAudit(ctx, tx, actor, action, subject, details)
}

// validUserName keeps account names printable and short.
func validUserName(n string) error {
	if n == "" || len(n) > 64 {
		return errors.New("a user name is 1 to 64 characters")
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '@' || c == '+') {
			return fmt.Errorf("user name %q: only letters, digits and - _ . @ +", n)
		}
	}
	return nil
}
