package registry

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/aigis-dev/aigis/internal/registry/store"
)

// Roles, per namespace, in the style of Harbor's project roles.
const (
	RoleReader   = "reader"   // pull approved versions and their referrers
	RolePusher   = "pusher"   // reader + push; never moves an existing tag
	RoleApprover = "approver" // reader + approve, reject, revoke (never their own push)
	RoleAdmin    = "admin"    // everything in the namespace; "*" admin: users and every namespace
)

// ValidRole reports whether r names a role.
func ValidRole(r string) bool {
	switch r {
	case RoleReader, RolePusher, RoleApprover, RoleAdmin:
		return true
	}
	return false
}

type perm int

const (
	permPull perm = iota
	permPush
	permApprove
	permDelete    // delete manifests, tags and blob links
	permOverwrite // move an existing tag
	permAdmin     // grant roles in the namespace
)

var permNames = map[perm]string{permPull: "pull", permPush: "push", permApprove: "approve", permDelete: "delete", permOverwrite: "overwrite a tag", permAdmin: "administer"}

func (p perm) String() string { return permNames[p] }

var rolePerms = map[string][]perm{
	RoleReader:   {permPull},
	RolePusher:   {permPull, permPush},
	RoleApprover: {permPull, permApprove},
	RoleAdmin:    {permPull, permPush, permApprove, permDelete, permOverwrite, permAdmin},
}

// principal is an authenticated caller.
type principal struct {
	name  string
	robot bool
	roles []store.Role
	addr  string
}

// can reports whether p holds perm in repo's namespace (ns "*" for a
// global check).
func (p *principal) can(repo string, want perm) bool {
	ns := namespace(repo)
	for _, r := range p.roles {
		if r.Namespace != "*" && (r.Namespace != ns || repo == "*") {
			continue
		}
		for _, have := range rolePerms[r.Role] {
			if have == want {
				return true
			}
		}
	}
	return false
}

func (p *principal) globalAdmin() bool {
	for _, r := range p.roles {
		if r.Namespace == "*" && r.Role == RoleAdmin {
			return true
		}
	}
	return false
}

// tokenPrefix marks aigis secrets, so a token can stand as a password.
const tokenPrefix = "aigis_"

// NewSecret returns a fresh token secret and the hash it is stored by.
func NewSecret() (secret, hash string) {
	b := make([]byte, 32)
	rand.Read(b)
	secret = tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, HashSecret(secret)
}

// HashSecret is the stored form of a token secret.
func HashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// HashPassword hashes a password with argon2id (OWASP's minimum
// parameters), salted.
func HashPassword(pw string) []byte {
	salt := make([]byte, 16)
	rand.Read(salt)
	return append(append([]byte("argon2id:1:"), salt...), argon2.IDKey([]byte(pw), salt, 2, 19*1024, 1, 32)...)
}

func checkPassword(stored []byte, pw string) bool {
	const prefix = "argon2id:1:"
	if len(stored) != len(prefix)+16+32 || string(stored[:len(prefix)]) != prefix {
		return false
	}
	salt := stored[len(prefix) : len(prefix)+16]
	want := stored[len(prefix)+16:]
	return subtle.ConstantTimeCompare(argon2.IDKey([]byte(pw), salt, 2, 19*1024, 1, 32), want) == 1
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authenticate reads the caller from a bearer token or basic credentials
// (a password, or a token secret in place of one). No credentials: nil, nil.
func (s *Server) authenticate(r *http.Request) (*principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, nil
	}
	scheme, cred, _ := strings.Cut(h, " ")
	ctx := r.Context()
	switch strings.ToLower(scheme) {
	case "bearer":
		p, err := s.byToken(ctx, strings.TrimSpace(cred), "")
		if err != nil {
			return nil, err
		}
		if p == nil {
			return nil, oerr(http.StatusUnauthorized, codeUnauthorized, "invalid or expired token")
		}
		p.addr = clientAddr(r)
		return p, nil
	case "basic":
		user, pw, ok := r.BasicAuth()
		if !ok {
			return nil, oerr(http.StatusUnauthorized, codeUnauthorized, "malformed basic credentials")
		}
		return s.login(r, user, pw, false)
	}
	return nil, oerr(http.StatusUnauthorized, codeUnauthorized, "unsupported authorization scheme")
}

// byToken finds the live token secret (of user, when user is not empty):
// one read of the token, its user and roles, never cached, so a revoked
// token or role takes effect on the next request.
func (s *Server) byToken(ctx context.Context, secret, user string) (*principal, error) {
	if !strings.HasPrefix(secret, tokenPrefix) || len(secret) > 200 {
		return nil, nil
	}
	ss, err := s.o.Meta.Session(ctx, HashSecret(secret))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !s.o.Now().Before(ss.Token.Expires) || (user != "" && ss.Token.User != user) || ss.User.Disabled {
		return nil, nil
	}
	return &principal{name: ss.User.Name, robot: ss.User.Robot, roles: ss.Roles}, nil
}

func (s *Server) loadPrincipal(ctx context.Context, tx store.Tx, name string) (*principal, error) {
	u, err := tx.User(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, nil
	}
	roles, err := tx.Roles(ctx, name)
	if err != nil {
		return nil, err
	}
	return &principal{name: u.Name, robot: u.Robot, roles: roles}, nil
}

// login checks basic credentials under the failed-login limits and
// audits the outcome when audit is set (the token endpoint; plain basic
// requests audit only failures).
func (s *Server) login(r *http.Request, user, pw string, audit bool) (*principal, error) {
	ctx := r.Context()
	addr := clientAddr(r)
	now := s.o.Now()
	since := now.Add(-s.o.LoginWindow)
	limited := func(tx store.Tx) (bool, error) {
		for _, k := range []struct {
			key string
			max int
		}{{"login-user:" + user, s.o.MaxUserFailures}, {"login-addr:" + addr, s.o.MaxAddrFailures}} {
			n, err := peekHits(ctx, tx, k.key, since)
			if err != nil {
				return false, err
			}
			if n >= k.max {
				return true, nil
			}
		}
		return false, nil
	}
	var blocked bool
	if err := s.o.Meta.View(ctx, func(tx store.Tx) (err error) { blocked, err = limited(tx); return }); err != nil {
		return nil, err
	}
	if blocked {
		s.auditQuick(ctx, user, "login-limited", "", map[string]any{"addr": addr})
		return nil, oerr(http.StatusTooManyRequests, codeTooManyRequests, "too many failed logins: try again later")
	}
	var p *principal
	if strings.HasPrefix(pw, tokenPrefix) {
		var err error
		if p, err = s.byToken(ctx, pw, user); err != nil {
			return nil, err
		}
	} else {
		err := s.o.Meta.View(ctx, func(tx store.Tx) error {
			u, err := tx.User(ctx, user)
			if errors.Is(err, store.ErrNotFound) {
				checkPassword(dummyHash(), pw) // the same time for unknown users
				return nil
			}
			if err != nil {
				return err
			}
			if len(u.Password) == 0 || !checkPassword(u.Password, pw) {
				return nil
			}
			p, err = s.loadPrincipal(ctx, tx, user)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if p == nil {
		err := s.o.Meta.Update(ctx, func(tx store.Tx) error {
			for _, k := range []string{"login-user:" + user, "login-addr:" + addr} {
				if _, err := tx.Hit(ctx, k, since, now); err != nil {
					return err
				}
			}
			return s.appendAudit(ctx, tx, user, "login-failed", "", map[string]any{"addr": addr})
		})
		if err != nil {
			return nil, err
		}
		return nil, oerr(http.StatusUnauthorized, codeUnauthorized, "invalid username or password")
	}
	p.addr = addr
	if audit {
		err := s.o.Meta.Update(ctx, func(tx store.Tx) error {
			if err := tx.ResetHits(ctx, "login-user:"+user); err != nil {
				return err
			}
			return s.appendAudit(ctx, tx, user, "login", "", map[string]any{"addr": addr})
		})
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// dummyHash is hashed on first use, not at start: a password hash costs
// tens of milliseconds and megabytes, which every aigis command would pay.
var dummyHash = sync.OnceValue(func() []byte { return HashPassword("not a password anyone has") })

// peekHits reads a counter without adding to it.
func peekHits(ctx context.Context, tx store.Tx, key string, since time.Time) (int, error) {
	return tx.Hits(ctx, key, since)
}

// challenge answers a request without credentials with the Docker token
// flow's 401.
func (s *Server) challenge(w http.ResponseWriter, r *http.Request, rt route) {
	realm := s.o.Realm
	if realm == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		realm = scheme + "://" + r.Host + "/token"
	}
	c := fmt.Sprintf(`Bearer realm=%q,service="aigis"`, realm)
	if rt.repo != "" {
		actions := "pull"
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			actions = "pull,push"
		}
		c += fmt.Sprintf(`,scope="repository:%s:%s"`, rt.repo, actions)
	}
	w.Header().Set("WWW-Authenticate", c)
	writeError(w, oerr(http.StatusUnauthorized, codeUnauthorized, "authentication required"))
}

// serveToken is the token endpoint: basic credentials (GET) or an OAuth2
// password grant (POST) in, a bearer token out.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	var user, pw string
	var ok bool
	switch r.Method {
	case http.MethodGet:
		user, pw, ok = r.BasicAuth()
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			writeError(w, oerr(http.StatusBadRequest, codeUnsupported, "malformed token request"))
			return
		}
		switch r.PostForm.Get("grant_type") {
		case "password":
			user, pw, ok = r.PostForm.Get("username"), r.PostForm.Get("password"), true
		case "refresh_token":
			user, pw, ok = r.PostForm.Get("username"), r.PostForm.Get("refresh_token"), true
			if user == "" {
				user, pw, ok = r.BasicAuth()
				if !ok {
					pw, ok = r.PostForm.Get("refresh_token"), true
				}
			}
		default:
			writeError(w, oerr(http.StatusBadRequest, codeUnsupported, "unsupported grant_type"))
			return
		}
	default:
		writeError(w, methodNotAllowed().(*ociError))
		return
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="aigis"`)
		writeError(w, oerr(http.StatusUnauthorized, codeUnauthorized, "credentials required"))
		return
	}
	var p *principal
	var err error
	if user == "" && strings.HasPrefix(pw, tokenPrefix) {
		p, err = s.byToken(r.Context(), pw, "")
		if err == nil && p == nil {
			err = oerr(http.StatusUnauthorized, codeUnauthorized, "invalid or expired token")
		}
	} else {
		p, err = s.login(r, user, pw, true)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	secret, hash := NewSecret()
	now := s.o.Now()
	t := &store.Token{Hash: hash, User: p.name, Description: "token endpoint", Created: now, Expires: now.Add(s.o.TokenTTL)}
	if err := s.o.Meta.Update(r.Context(), func(tx store.Tx) error { return tx.PutToken(r.Context(), t) }); err != nil {
		s.fail(w, r, err)
		return
	}
	resp := map[string]any{
		"token": secret, "access_token": secret,
		"expires_in": int(s.o.TokenTTL.Seconds()), "issued_at": now.UTC().Format(time.RFC3339),
	}
	if r.Method == http.MethodPost {
		resp["refresh_token"] = secret
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(resp)
}

// authorize checks want on repo and audits a refusal.
func (s *Server) authorize(ctx context.Context, p *principal, repo string, want perm) error {
	if p.can(repo, want) {
		return nil
	}
	s.auditQuick(ctx, p.name, "denied", repo, map[string]any{"need": want.String()})
	return oerr(http.StatusForbidden, codeDenied, "%s may not %s in %s", p.name, want, namespace(repo))
}
