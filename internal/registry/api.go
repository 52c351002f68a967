package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/registry/store"
)

// The aigis API (/aigis/v1/) manages what the OCI API does not: listings
// with states, approvals, users, tokens, roles and the audit log. Every
// call is authenticated like the OCI API, every change is audited, and
// bodies are bounded by MaxJSON.

// Version is a version as the API lists it.
type Version struct {
	Repository   string          `json:"repository"`
	Digest       string          `json:"digest"`
	Tags         []string        `json:"tags,omitempty"`
	MediaType    string          `json:"media_type"`
	ArtifactType string          `json:"artifact_type,omitempty"`
	State        string          `json:"state"`
	Reason       string          `json:"reason,omitempty"`
	Denial       string          `json:"denial,omitempty"`
	Pusher       string          `json:"pusher"`
	Pushed       time.Time       `json:"pushed"`
	StateBy      string          `json:"state_by,omitempty"`
	StateAt      time.Time       `json:"state_at"`
	Expires      *time.Time      `json:"expires,omitempty"`
	Subject      string          `json:"subject,omitempty"`
	Gate         json.RawMessage `json:"gate,omitempty"`
	GateDigest   string          `json:"gate_digest,omitempty"`
	Model        *ModelInfo      `json:"model,omitempty"`
	Referrers    []Version       `json:"referrers,omitempty"`
	Manifest     json.RawMessage `json:"manifest,omitempty"`
}

func (s *Server) version(ctx context.Context, tx store.Tx, m *store.Manifest, full bool) (Version, error) {
	v := Version{Repository: m.Repo, Digest: m.Digest, MediaType: m.MediaType, ArtifactType: m.ArtifactType,
		State: string(m.State), Reason: m.Reason, Denial: denial(m, s.o.Now()), Pusher: m.Pusher, Pushed: m.Created,
		StateBy: m.StateBy, StateAt: m.StateAt, Subject: m.Subject, Gate: m.Gate}
	if !m.Expires.IsZero() {
		e := m.Expires
		v.Expires = &e
	}
	if m.Gate != nil {
		v.GateDigest = GateResultDigest(m.Gate)
	}
	tags, err := tx.TagsOf(ctx, m.Repo, m.Digest)
	if err != nil {
		return v, err
	}
	v.Tags = tags
	if m.Subject == "" {
		v.Model = s.modelInfo(ctx, m)
	}
	if full {
		v.Manifest = m.Content
		refs, err := tx.Referrers(ctx, m.Repo, m.Digest)
		if err != nil {
			return v, err
		}
		for i := range refs {
			rv, err := s.version(ctx, tx, &refs[i], false)
			if err != nil {
				return v, err
			}
			rv.Model = nil
			v.Referrers = append(v.Referrers, rv)
		}
	}
	return v, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, s.o.MaxJSON)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return oerr(http.StatusRequestEntityTooLarge, codeSizeInvalid, "request body larger than %d bytes", s.o.MaxJSON)
		}
		return oerr(http.StatusBadRequest, codeUnsupported, "malformed request: %v", err)
	}
	return nil
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	p, err := s.authenticate(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if p == nil {
		s.challenge(w, r, route{})
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/aigis/v1/")
	type handler func(http.ResponseWriter, *http.Request, *principal) error
	routes := map[string]map[string]handler{
		"versions":          {http.MethodGet: s.apiVersions},
		"version":           {http.MethodGet: s.apiVersion},
		"approve":           {http.MethodPost: s.apiApprove},
		"reject":            {http.MethodPost: s.apiDecide("reject")},
		"revoke":            {http.MethodPost: s.apiDecide("revoke")},
		"users":             {http.MethodGet: s.apiUsers, http.MethodPost: s.apiPutUser, http.MethodDelete: s.apiDeleteUser},
		"tokens":            {http.MethodGet: s.apiTokens, http.MethodPost: s.apiNewToken, http.MethodDelete: s.apiDeleteToken},
		"roles":             {http.MethodGet: s.apiRoles, http.MethodPost: s.apiSetRole, http.MethodDelete: s.apiDeleteRole},
		"audit":             {http.MethodGet: s.apiAudit},
		"audit/verify":      {http.MethodGet: s.apiAuditVerify},
		"audit/checkpoints": {http.MethodGet: s.apiCheckpoints},
		"whoami":            {http.MethodGet: s.apiWhoami},
	}
	ms, ok := routes[path]
	if !ok {
		s.fail(w, r, oerr(http.StatusNotFound, codeUnsupported, "no such endpoint"))
		return
	}
	h, ok := ms[r.Method]
	if !ok {
		s.fail(w, r, methodNotAllowed())
		return
	}
	if err := h(w, r, p); err != nil {
		s.fail(w, r, err)
	}
}

func (s *Server) apiWhoami(w http.ResponseWriter, r *http.Request, p *principal) error {
	writeJSON(w, http.StatusOK, map[string]any{"user": p.name, "robot": p.robot, "roles": rolesJSON(p.roles)})
	return nil
}

type roleJSON struct {
	User      string `json:"user"`
	Namespace string `json:"namespace"`
	Role      string `json:"role"`
}

func rolesJSON(rs []store.Role) []roleJSON {
	out := []roleJSON{}
	for _, r := range rs {
		out = append(out, roleJSON{r.User, r.Namespace, r.Role})
	}
	return out
}

func (s *Server) apiVersions(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	q := r.URL.Query()
	f := store.ManifestFilter{Repo: q.Get("repo")}
	if ns := q.Get("namespace"); ns != "" {
		f.Prefix = ns + "/"
	}
	for _, st := range q["state"] {
		f.States = append(f.States, store.State(st))
	}
	all := q.Get("all") == "true"
	out := []Version{}
	err := s.o.Meta.View(ctx, func(tx store.Tx) error {
		ms, err := tx.Manifests(ctx, f)
		if err != nil {
			return err
		}
		for i := range ms {
			m := &ms[i]
			if !p.can(m.Repo, permPull) || (m.Subject != "" && !all) {
				continue
			}
			v, err := s.version(ctx, tx, m, false)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiVersion(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	repo, ref, err := ParseRef(r.URL.Query().Get("ref"))
	if err != nil {
		return oerr(http.StatusBadRequest, codeNameInvalid, "%v", err)
	}
	if err := s.authorize(ctx, p, repo, permPull); err != nil {
		return err
	}
	var v Version
	err = s.o.Meta.View(ctx, func(tx store.Tx) error {
		d, err := resolveRef(ctx, tx, repo, ref)
		if err != nil {
			return err
		}
		m, err := tx.Manifest(ctx, repo, d)
		if err != nil {
			return err
		}
		v, err = s.version(ctx, tx, m, true)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return oerr(http.StatusNotFound, codeManifestUnknown, "no version %s", r.URL.Query().Get("ref"))
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// ApproveRequest carries a signed approval.
type ApproveRequest struct {
	Ref      string `json:"ref"`
	Envelope []byte `json:"envelope"`
}

func (s *Server) apiApprove(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req ApproveRequest
	if err := s.readJSON(w, r, &req); err != nil {
		return err
	}
	ref, err := s.approve(r.Context(), p, req.Ref, req.Envelope)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"approved": req.Ref, "approval": ref.Digest})
	return nil
}

// DecideRequest rejects or revokes a version.
type DecideRequest struct {
	Ref    string `json:"ref"`
	Reason string `json:"reason"`
}

func (s *Server) apiDecide(action string) func(http.ResponseWriter, *http.Request, *principal) error {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		var req DecideRequest
		if err := s.readJSON(w, r, &req); err != nil {
			return err
		}
		m, err := s.decide(r.Context(), p, req.Ref, action, req.Reason)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{action + "d": req.Ref, "digest": m.Digest})
		return nil
	}
}

// UserRequest creates or changes a user.
type UserRequest struct {
	Name     string `json:"name"`
	Password string `json:"password,omitempty"`
	Robot    bool   `json:"robot,omitempty"`
	Key      string `json:"key,omitempty"` // PEM public key for approvals
	Disabled bool   `json:"disabled,omitempty"`
}

// UserInfo is a user as the API lists it.
type UserInfo struct {
	Name     string     `json:"name"`
	Robot    bool       `json:"robot"`
	Password bool       `json:"password"`
	Key      string     `json:"key_id,omitempty"`
	Disabled bool       `json:"disabled"`
	Created  time.Time  `json:"created"`
	Roles    []roleJSON `json:"roles"`
}

func (s *Server) requireGlobalAdmin(ctx context.Context, p *principal, what string) error {
	if p.globalAdmin() {
		return nil
	}
	s.auditQuick(ctx, p.name, "denied", what, map[string]any{"need": "global admin"})
	return oerr(http.StatusForbidden, codeDenied, "%s needs the admin role on every namespace (*)", what)
}

func (s *Server) apiUsers(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	if err := s.requireGlobalAdmin(ctx, p, "listing users"); err != nil {
		return err
	}
	out := []UserInfo{}
	err := s.o.Meta.View(ctx, func(tx store.Tx) error {
		us, err := tx.Users(ctx)
		if err != nil {
			return err
		}
		for _, u := range us {
			rs, err := tx.Roles(ctx, u.Name)
			if err != nil {
				return err
			}
			ui := UserInfo{Name: u.Name, Robot: u.Robot, Password: len(u.Password) > 0, Disabled: u.Disabled, Created: u.Created, Roles: rolesJSON(rs)}
			if len(u.Key) > 0 {
				if pub, err := oms.ParsePublicKey(u.Key); err == nil {
					ui.Key, _ = oms.KeyHint(pub)
				}
			}
			out = append(out, ui)
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// apiPutUser creates or changes a user: a global admin any user, anyone
// their own password and approval key.
func (s *Server) apiPutUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	var req UserRequest
	if err := s.readJSON(w, r, &req); err != nil {
		return err
	}
	if err := validUserName(req.Name); err != nil {
		return oerr(http.StatusBadRequest, codeUnsupported, "%v", err)
	}
	self := req.Name == p.name && !p.robot
	if !self {
		if err := s.requireGlobalAdmin(ctx, p, "changing user "+req.Name); err != nil {
			return err
		}
	}
	if req.Key != "" {
		if _, err := oms.ParsePublicKey([]byte(req.Key)); err != nil {
			return oerr(http.StatusBadRequest, codeUnsupported, "key: %v", err)
		}
	}
	if req.Password != "" && len(req.Password) < 12 {
		return oerr(http.StatusBadRequest, codeUnsupported, "a password is at least 12 characters")
	}
	var created bool
	err := s.o.Meta.Update(ctx, func(tx store.Tx) error {
		u, err := tx.User(ctx, req.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			u = &store.User{Name: req.Name, Robot: req.Robot, Created: s.o.Now()}
			created = true
		case err != nil:
			return err
		}
		if self && (req.Robot != u.Robot || req.Disabled) {
			return oerr(http.StatusForbidden, codeDenied, "only an admin changes an account's kind or disables it")
		}
		if !self {
			u.Disabled = req.Disabled
		}
		if req.Password != "" {
			if u.Robot {
				return oerr(http.StatusBadRequest, codeUnsupported, "robot accounts use tokens, not passwords")
			}
			u.Password = HashPassword(req.Password)
		}
		if req.Key != "" {
			u.Key = []byte(req.Key)
		}
		if err := tx.PutUser(ctx, u); err != nil {
			return err
		}
		action := "user-update"
		if created {
			action = "user-create"
		}
		return s.appendAudit(ctx, tx, p.name, action, req.Name, map[string]any{"robot": u.Robot, "password": req.Password != "", "key": req.Key != "", "disabled": u.Disabled})
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, map[string]any{"user": req.Name, "created": created})
	return nil
}

func (s *Server) apiDeleteUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	name := r.URL.Query().Get("name")
	if err := s.requireGlobalAdmin(ctx, p, "deleting user "+name); err != nil {
		return err
	}
	if name == p.name {
		return oerr(http.StatusBadRequest, codeUnsupported, "an admin does not delete their own account")
	}
	err := s.o.Meta.Update(ctx, func(tx store.Tx) error {
		if err := tx.DeleteUser(ctx, name); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, p.name, "user-delete", name, nil)
	})
	if errors.Is(err, store.ErrNotFound) {
		return oerr(http.StatusNotFound, codeUnsupported, "no user %q", name)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": name})
	return nil
}

// TokenRequest asks for a token.
type TokenRequest struct {
	User        string `json:"user"`
	TTL         string `json:"ttl"` // Go duration; default 24h, at most 1 year
	Description string `json:"description,omitempty"`
}

// MaxTokenTTL bounds a token's life.
const MaxTokenTTL = 366 * 24 * time.Hour

// TokenInfo lists a token without its secret.
type TokenInfo struct {
	ID          string    `json:"id"` // the first 16 hex digits of its hash
	User        string    `json:"user"`
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
}

func (s *Server) apiNewToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	var req TokenRequest
	if err := s.readJSON(w, r, &req); err != nil {
		return err
	}
	if req.User == "" {
		req.User = p.name
	}
	if req.User != p.name {
		if err := s.requireGlobalAdmin(ctx, p, "a token for "+req.User); err != nil {
			return err
		}
	}
	ttl := 24 * time.Hour
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 || d > MaxTokenTTL {
			return oerr(http.StatusBadRequest, codeUnsupported, "ttl %q: want a duration up to %s", req.TTL, MaxTokenTTL)
		}
		ttl = d
	}
	secret, hash := NewSecret()
	now := s.o.Now()
	t := &store.Token{Hash: hash, User: req.User, Description: req.Description, Created: now, Expires: now.Add(ttl)}
	err := s.o.Meta.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.User(ctx, req.User); err != nil {
			return err
		}
		if err := tx.PutToken(ctx, t); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, p.name, "token-create", req.User, map[string]any{"id": hash[:16], "expires": t.Expires.UTC().Format(time.RFC3339)})
	})
	if errors.Is(err, store.ErrNotFound) {
		return oerr(http.StatusNotFound, codeUnsupported, "no user %q", req.User)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": secret, "id": hash[:16], "user": req.User, "expires": t.Expires})
	return nil
}

func (s *Server) apiTokens(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	user := r.URL.Query().Get("user")
	if user == "" {
		user = p.name
	}
	if user != p.name {
		if err := s.requireGlobalAdmin(ctx, p, "the tokens of "+user); err != nil {
			return err
		}
	}
	out := []TokenInfo{}
	err := s.o.Meta.View(ctx, func(tx store.Tx) error {
		ts, err := tx.Tokens(ctx, user)
		for _, t := range ts {
			out = append(out, TokenInfo{ID: t.Hash[:16], User: t.User, Description: t.Description, Created: t.Created, Expires: t.Expires})
		}
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiDeleteToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	id := r.URL.Query().Get("id")
	user := r.URL.Query().Get("user")
	if user == "" {
		user = p.name
	}
	if user != p.name {
		if err := s.requireGlobalAdmin(ctx, p, "revoking a token of "+user); err != nil {
			return err
		}
	}
	if len(id) < 8 {
		return oerr(http.StatusBadRequest, codeUnsupported, "a token id is at least 8 hex digits")
	}
	err := s.o.Meta.Update(ctx, func(tx store.Tx) error {
		ts, err := tx.Tokens(ctx, user)
		if err != nil {
			return err
		}
		n := 0
		for _, t := range ts {
			if strings.HasPrefix(t.Hash, id) {
				if err := tx.DeleteToken(ctx, t.Hash); err != nil {
					return err
				}
				n++
			}
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return s.appendAudit(ctx, tx, p.name, "token-delete", user, map[string]any{"id": id, "count": n})
	})
	if errors.Is(err, store.ErrNotFound) {
		return oerr(http.StatusNotFound, codeUnsupported, "no token %s of %s", id, user)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": id})
	return nil
}

func (s *Server) apiRoles(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	var rs []store.Role
	err := s.o.Meta.View(ctx, func(tx store.Tx) (err error) { rs, err = tx.AllRoles(ctx); return })
	if err != nil {
		return err
	}
	var out []store.Role
	for _, x := range rs {
		if x.User == p.name || p.globalAdmin() || (x.Namespace != "*" && p.can(x.Namespace, permAdmin)) {
			out = append(out, x)
		}
	}
	writeJSON(w, http.StatusOK, rolesJSON(out))
	return nil
}

// canGrant: a namespace's admin grants roles in it; only a global admin
// grants "*" roles.
func (s *Server) canGrant(ctx context.Context, p *principal, ns string) error {
	if ns == "*" {
		return s.requireGlobalAdmin(ctx, p, "a role on every namespace")
	}
	if !validName(ns) || strings.Contains(ns, "/") {
		return oerr(http.StatusBadRequest, codeNameInvalid, "invalid namespace %q", ns)
	}
	return s.authorize(ctx, p, ns, permAdmin)
}

func (s *Server) apiSetRole(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	var req roleJSON
	if err := s.readJSON(w, r, &req); err != nil {
		return err
	}
	if !ValidRole(req.Role) {
		return oerr(http.StatusBadRequest, codeUnsupported, "role %q: want reader, pusher, approver or admin", req.Role)
	}
	if err := s.canGrant(ctx, p, req.Namespace); err != nil {
		return err
	}
	err := s.o.Meta.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.User(ctx, req.User); err != nil {
			return err
		}
		if err := tx.SetRole(ctx, store.Role{User: req.User, Namespace: req.Namespace, Role: req.Role}); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, p.name, "role-set", req.User, map[string]any{"namespace": req.Namespace, "role": req.Role})
	})
	if errors.Is(err, store.ErrNotFound) {
		return oerr(http.StatusNotFound, codeUnsupported, "no user %q", req.User)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, req)
	return nil
}

func (s *Server) apiDeleteRole(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	user, ns := r.URL.Query().Get("user"), r.URL.Query().Get("namespace")
	if err := s.canGrant(ctx, p, ns); err != nil {
		return err
	}
	err := s.o.Meta.Update(ctx, func(tx store.Tx) error {
		if err := tx.DeleteRole(ctx, user, ns); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, p.name, "role-delete", user, map[string]any{"namespace": ns})
	})
	if errors.Is(err, store.ErrNotFound) {
		return oerr(http.StatusNotFound, codeUnsupported, "%s has no role in %s", user, ns)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": fmt.Sprintf("%s in %s", user, ns)})
	return nil
}

func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	if err := s.requireGlobalAdmin(ctx, p, "reading the audit log"); err != nil {
		return err
	}
	var from int64
	fmt.Sscan(r.URL.Query().Get("from"), &from)
	w.Header().Set("Content-Type", "application/x-ndjson")
	return ExportAudit(ctx, s.o.Meta, from, w)
}

func (s *Server) apiAuditVerify(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	if err := s.requireGlobalAdmin(ctx, p, "verifying the audit log"); err != nil {
		return err
	}
	var res *AuditResult
	var err error
	if s.o.AuditKey != nil {
		res, err = VerifyAudit(ctx, s.o.Meta, &s.o.AuditKey.PublicKey)
	} else {
		res, err = VerifyAudit(ctx, s.o.Meta, nil)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) apiCheckpoints(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	if err := s.requireGlobalAdmin(ctx, p, "reading the audit checkpoints"); err != nil {
		return err
	}
	var cps []store.Checkpoint
	if err := s.o.Meta.View(ctx, func(tx store.Tx) (err error) { cps, err = tx.Checkpoints(ctx); return }); err != nil {
		return err
	}
	if cps == nil {
		cps = []store.Checkpoint{}
	}
	writeJSON(w, http.StatusOK, cps)
	return nil
}

var _ = io.EOF
