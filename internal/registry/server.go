// Package registry is the aigis model registry: an OCI Distribution API
// v1.1 server where every push lands in quarantine, a gate checks it, a
// person other than the pusher approves it (or the namespace approves what
// passes the gate), and only approved, unrevoked versions are served. See
// docs/registry.md.
//
// It keeps every record in a store.MetaStore and every byte in a
// store.BlobStore, changes state only in transactions (several server
// processes may share the stores), re-hashes blobs as they stream out, and
// never serves a version whose bytes no longer match what was approved.
package registry

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aigis-dev/aigis/internal/registry/gate"
	"github.com/aigis-dev/aigis/internal/registry/queue"
	"github.com/aigis-dev/aigis/internal/registry/store"
)

// GateMode says how a namespace's pushes become approved.
type GateMode string

// The gate modes.
const (
	// GateManual runs the gates; a person approves what passes.
	GateManual GateMode = "manual"
	// GateAuto runs the gates and approves what passes.
	GateAuto GateMode = "auto"
	// GateNone approves every push at once without running the gates:
	// for conformance runs and tests only, never for models anyone runs.
	GateNone GateMode = "none"
)

// Options configure a Server.
type Options struct {
	Meta  store.MetaStore
	Blobs store.BlobStore
	Queue queue.Queue // nil: an in-process queue
	// Gate runs the gates (nil: gate.Run).
	Gate func(ctx context.Context, a gate.Artifact, cfg gate.Config) (*gate.Result, error)
	// Modes maps a namespace ("*" for every other) to its gate mode;
	// namespaces not named are GateManual.
	Modes map[string]GateMode
	// GateConfig is the gate configuration per namespace ("*" for every
	// other): trusted signers, licences, OSV database, limits, policy.
	// AutoApprove is set from the namespace's mode.
	GateConfig map[string]gate.Config
	// Realm is the token endpoint's absolute URL for WWW-Authenticate; empty
	// means http(s)://<request host>/token.
	Realm string
	// MaxManifest bounds a manifest (default 4 MiB); MaxBlob an upload
	// (default 1 TiB); MaxJSON an API body (default 1 MiB).
	MaxManifest, MaxBlob, MaxJSON int64
	// TokenTTL is the life of a token from /token (default 1h).
	TokenTTL time.Duration
	// AuditKey signs audit checkpoints; CheckpointEvery rows (default 1000).
	AuditKey        *ecdsa.PrivateKey
	CheckpointEvery int64
	// GateWorkers run gate jobs (default 2; <0: none, for a process that
	// only serves).
	GateWorkers int
	// Login limits: failures per user and per address in LoginWindow.
	MaxUserFailures, MaxAddrFailures int
	LoginWindow                      time.Duration
	Logger                           *slog.Logger
	Now                              func() time.Time
}

// Server serves the registry.
type Server struct {
	o      Options
	log    *slog.Logger
	queue  queue.Queue
	wg     sync.WaitGroup
	cancel context.CancelFunc
	// The audit group commit.
	auditQ      chan auditReq
	auditMu     sync.RWMutex
	auditClosed bool
	auditWG     sync.WaitGroup
}

// New returns a server over the stores and starts its gate workers.
func New(o Options) (*Server, error) {
	if o.Meta == nil || o.Blobs == nil {
		return nil, errors.New("registry: a MetaStore and a BlobStore are needed")
	}
	if o.MaxManifest <= 0 {
		o.MaxManifest = 4 << 20
	}
	if o.MaxBlob <= 0 {
		o.MaxBlob = 1 << 40
	}
	if o.MaxJSON <= 0 {
		o.MaxJSON = 1 << 20
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = time.Hour
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = 1000
	}
	if o.GateWorkers == 0 {
		o.GateWorkers = 2
	}
	if o.MaxUserFailures <= 0 {
		o.MaxUserFailures = 10
	}
	if o.MaxAddrFailures <= 0 {
		o.MaxAddrFailures = 50
	}
	if o.LoginWindow <= 0 {
		o.LoginWindow = 15 * time.Minute
	}
	if o.Gate == nil {
		o.Gate = gate.Run
	}
	for ns, c := range o.GateConfig {
		if c.Policy != "" {
			if err := gate.CheckPolicy(c.Policy, c.Limits); err != nil {
				return nil, fmt.Errorf("the gate policy of %s: %w", ns, err)
			}
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{o: o, log: o.Logger, queue: o.Queue, auditQ: make(chan auditReq, 4096)}
	s.auditWG.Add(1)
	go s.auditLoop()
	if s.queue == nil {
		s.queue = queue.NewMemory()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if o.GateWorkers > 0 {
		if err := s.requeuePending(ctx); err != nil {
			cancel()
			s.closeAudit()
			return nil, err
		}
		for i := 0; i < o.GateWorkers; i++ {
			s.wg.Add(1)
			go s.gateWorker(ctx)
		}
	}
	s.wg.Add(1)
	go s.janitor(ctx)
	return s, nil
}

// Close stops the workers and writes a final audit checkpoint. In-flight
// requests are the http.Server's to finish (Shutdown) before Close.
func (s *Server) Close() error {
	s.cancel()
	s.queue.Close()
	s.wg.Wait()
	s.closeAudit()
	return s.Checkpoint(context.Background())
}

// mode is the gate mode of repo's namespace.
func (s *Server) mode(repo string) GateMode {
	if m, ok := s.o.Modes[namespace(repo)]; ok {
		return m
	}
	if m, ok := s.o.Modes["*"]; ok {
		return m
	}
	return GateManual
}

// gateConfig is the gate configuration of repo's namespace.
func (s *Server) gateConfig(repo string) gate.Config {
	c, ok := s.o.GateConfig[namespace(repo)]
	if !ok {
		c = s.o.GateConfig["*"]
	}
	c.AutoApprove = s.mode(repo) == GateAuto
	return c
}

// Handler is the HTTP face: /v2/ (OCI), /token, /aigis/v1/ (the API).
// Paths are routed as sent, never cleaned or redirected: a name with ".."
// or "//" is refused as NAME_INVALID, not resolved.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/v2" || strings.HasPrefix(p, "/v2/"):
			s.serveOCI(w, r)
		case p == "/token":
			s.serveToken(w, r)
		case strings.HasPrefix(p, "/aigis/v1/"):
			s.serveAPI(w, r)
		case p == "/healthz":
			w.Write([]byte("ok\n"))
		default:
			http.NotFound(w, r)
		}
	})
}

// The OCI error codes (distribution-spec, "Error Codes").
const (
	codeBlobUnknown         = "BLOB_UNKNOWN"
	codeBlobUploadInvalid   = "BLOB_UPLOAD_INVALID"
	codeBlobUploadUnknown   = "BLOB_UPLOAD_UNKNOWN"
	codeDigestInvalid       = "DIGEST_INVALID"
	codeManifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN"
	codeManifestInvalid     = "MANIFEST_INVALID"
	codeManifestUnknown     = "MANIFEST_UNKNOWN"
	codeNameInvalid         = "NAME_INVALID"
	codeNameUnknown         = "NAME_UNKNOWN"
	codeSizeInvalid         = "SIZE_INVALID"
	codeUnauthorized        = "UNAUTHORIZED"
	codeDenied              = "DENIED"
	codeUnsupported         = "UNSUPPORTED"
	codeTooManyRequests     = "TOOMANYREQUESTS"
)

// ociError is an error with its OCI code and HTTP status.
type ociError struct {
	status  int
	code    string
	message string
	detail  any
}

func (e *ociError) Error() string { return e.code + ": " + e.message }

func oerr(status int, code, format string, a ...any) *ociError {
	return &ociError{status: status, code: code, message: fmt.Sprintf(format, a...)}
}

func writeError(w http.ResponseWriter, e *ociError) {
	type item struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Detail  any    `json:"detail,omitempty"`
	}
	b, _ := json.Marshal(struct {
		Errors []item `json:"errors"`
	}{[]item{{e.code, e.message, e.detail}}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(e.status)
	w.Write(b)
}

// fail writes err: an *ociError as itself, anything else as a 500 that
// names no internals.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var oe *ociError
	if errors.As(err, &oe) {
		writeError(w, oe)
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, &ociError{status: http.StatusInternalServerError, code: "UNKNOWN", message: "internal error"})
}

// Repository names, references and digests (distribution-spec grammar).
var (
	nameRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	})
	tagRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`) })
	digestRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$`) })
)

const maxNameLen = 255

func validName(n string) bool { return len(n) <= maxNameLen && nameRE().MatchString(n) }

// namespace is the first component of a repository name.
func namespace(repo string) string {
	ns, _, _ := strings.Cut(repo, "/")
	return ns
}

// parseDigest checks a digest: a supported algorithm and its hex length.
func parseDigest(d string) (alg, hex string, err *ociError) {
	if !digestRE().MatchString(d) {
		return "", "", oerr(http.StatusBadRequest, codeDigestInvalid, "invalid digest %q", truncate(d))
	}
	alg, hex, _ = strings.Cut(d, ":")
	want, ok := map[string]int{"sha256": 64, "sha512": 128}[alg]
	if !ok {
		return "", "", oerr(http.StatusBadRequest, codeDigestInvalid, "unsupported digest algorithm %q (want sha256 or sha512)", alg)
	}
	if len(hex) != want || strings.ToLower(hex) != hex {
		return "", "", oerr(http.StatusBadRequest, codeDigestInvalid, "invalid %s digest %q", alg, truncate(d))
	}
	return alg, hex, nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// route is a parsed /v2/ path.
type route struct {
	repo string
	kind string // "manifests", "blobs", "uploads", "upload", "tags", "referrers", "base"
	ref  string
}

func parseRoute(path string) (route, *ociError) {
	p := strings.TrimPrefix(path, "/v2")
	if p == "" || p == "/" {
		return route{kind: "base"}, nil
	}
	p = strings.TrimPrefix(p, "/")
	type suffix struct{ sep, kind string }
	for _, sf := range []suffix{{"/blobs/uploads/", "upload"}, {"/manifests/", "manifests"}, {"/blobs/", "blobs"}, {"/referrers/", "referrers"}} {
		if i := strings.LastIndex(p, sf.sep); i > 0 {
			rt := route{repo: p[:i], kind: sf.kind, ref: p[i+len(sf.sep):]}
			if rt.kind == "upload" && rt.ref == "" {
				rt.kind = "uploads"
			}
			if strings.Contains(rt.ref, "/") {
				break
			}
			return rt, checkName(rt.repo)
		}
	}
	if strings.HasSuffix(p, "/tags/list") {
		rt := route{repo: strings.TrimSuffix(p, "/tags/list"), kind: "tags"}
		return rt, checkName(rt.repo)
	}
	if strings.HasSuffix(p, "/blobs/uploads") {
		rt := route{repo: strings.TrimSuffix(p, "/blobs/uploads"), kind: "uploads"}
		return rt, checkName(rt.repo)
	}
	return route{}, oerr(http.StatusNotFound, codeNameUnknown, "no such endpoint")
}

func checkName(n string) *ociError {
	if !validName(n) {
		return oerr(http.StatusBadRequest, codeNameInvalid, "invalid repository name %q", truncate(n))
	}
	return nil
}

// serveOCI routes the distribution API.
func (s *Server) serveOCI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	rt, perr := parseRoute(r.URL.EscapedPath())
	p, aerr := s.authenticate(r)
	if aerr != nil {
		s.fail(w, r, aerr)
		return
	}
	if p == nil {
		s.challenge(w, r, rt)
		return
	}
	if perr != nil {
		s.fail(w, r, perr)
		return
	}
	var err error
	switch rt.kind {
	case "base":
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("{}"))
		return
	case "manifests":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			err = s.getManifest(w, r, p, rt)
		case http.MethodPut:
			err = s.putManifest(w, r, p, rt)
		case http.MethodDelete:
			err = s.deleteManifest(w, r, p, rt)
		default:
			err = methodNotAllowed()
		}
	case "blobs":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			err = s.getBlob(w, r, p, rt)
		case http.MethodDelete:
			err = s.deleteBlob(w, r, p, rt)
		default:
			err = methodNotAllowed()
		}
	case "uploads":
		if r.Method != http.MethodPost {
			err = methodNotAllowed()
			break
		}
		err = s.startUpload(w, r, p, rt)
	case "upload":
		switch r.Method {
		case http.MethodGet:
			err = s.uploadStatus(w, r, p, rt)
		case http.MethodPatch:
			err = s.patchUpload(w, r, p, rt)
		case http.MethodPut:
			err = s.finishUpload(w, r, p, rt)
		case http.MethodDelete:
			err = s.cancelUpload(w, r, p, rt)
		default:
			err = methodNotAllowed()
		}
	case "tags":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			err = methodNotAllowed()
			break
		}
		err = s.listTags(w, r, p, rt)
	case "referrers":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			err = methodNotAllowed()
			break
		}
		err = s.referrers(w, r, p, rt)
	}
	if err != nil {
		s.fail(w, r, err)
	}
}

func methodNotAllowed() error {
	return oerr(http.StatusMethodNotAllowed, codeUnsupported, "method not allowed")
}
