// Package store holds the two storage interfaces of the aigis registry:
// MetaStore (every record: manifests, tags, uploads, users, tokens, roles,
// the audit log) and BlobStore (content-addressed bytes). The embedded
// implementations are store/sqlite and store/fsblob; storetest is the
// shared suite every implementation must pass.
//
// Several server processes may share one MetaStore and one BlobStore: every
// change is a transaction (Update), never guarded by an in-process lock
// alone, and upload sessions live in the MetaStore so that any process can
// continue any upload.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"
)

// Errors every implementation returns (wrapped or not).
var (
	ErrNotFound = errors.New("not found")
	// ErrConflict is a compare-and-swap that lost: a tag that exists, a
	// state that changed, an upload offset that moved.
	ErrConflict = errors.New("conflict")
)

// State is where a version stands.
type State string

// The states of a version (docs/registry.md).
const (
	Pending  State = "pending"
	Approved State = "approved"
	Rejected State = "rejected"
	Revoked  State = "revoked"
	// Attached is a referrer that carries metadata of its subject
	// (signatures, BOMs, approvals): readable by the repository's readers,
	// never a model in its own right.
	Attached State = "attached"
)

// Servable reports whether a version in state s may be pulled.
func (s State) Servable() bool { return s == Approved || s == Attached }

// Ref is one digest a manifest references.
type Ref struct {
	Digest string
	Kind   string // "config", "layer", "manifest" (a child of an index), "subject"
	Size   int64
}

// Manifest is one pushed manifest, stored as the exact bytes pushed.
type Manifest struct {
	Repo         string
	Digest       string
	MediaType    string
	ArtifactType string
	Subject      string // digest of the subject, if any
	Annotations  map[string]string
	Content      []byte
	Pusher       string
	Created      time.Time
	State        State
	Reason       string    // why the state is what it is
	StateBy      string    // who set the state
	StateAt      time.Time // when
	Gate         []byte    // the gate's Result as JSON, once it ran
	Expires      time.Time // when an approval lapses (zero: never)
	Refs         []Ref
}

// Upload is a blob upload session.
type Upload struct {
	ID      string
	Repo    string
	Owner   string
	Size    int64  // bytes received so far
	Hash    []byte // the marshalled SHA-256 state over those bytes
	Created time.Time
	Updated time.Time
}

// User is a person or a robot account.
type User struct {
	Name     string
	Robot    bool
	Password []byte // a password hash (see registry.hashPassword); empty: tokens only
	Key      []byte // PEM public key that signs this user's approvals
	Created  time.Time
	Disabled bool
}

// Token is a bearer token, stored by the SHA-256 of its secret.
type Token struct {
	Hash        string
	User        string
	Description string
	Created     time.Time
	Expires     time.Time
}

// Role is a user's role in a namespace ("*" for every namespace).
type Role struct {
	User      string
	Namespace string
	Role      string
}

// AuditEntry is one row of the append-only, hash-chained audit log.
type AuditEntry struct {
	Seq     int64           `json:"seq"`
	Time    time.Time       `json:"time"`
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	Subject string          `json:"subject"`
	Details json.RawMessage `json:"details,omitempty"`
	Hash    string          `json:"hash"` // hex SHA-256(prev hash || canonical row)
}

// Checkpoint signs the audit chain at one row.
type Checkpoint struct {
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	Time      time.Time `json:"time"`
	KeyID     string    `json:"key_id"`
	Signature []byte    `json:"signature"`
}

// StateChange is a move of a version to another state.
type StateChange struct {
	To      State
	By      string    // who
	Reason  string    // why
	Gate    []byte    // the gate result (nil keeps the stored one)
	Expires time.Time // an approval's expiry
	// ClearGate drops the stored gate result (the version is gated again).
	ClearGate bool
}

// TagInfo is a tag and what it points to.
type TagInfo struct {
	Repo    string
	Tag     string
	Digest  string
	Updated time.Time
}

// ManifestFilter selects manifests for listings.
type ManifestFilter struct {
	Repo   string  // exact repository, or ""
	Digest string  // exact digest, or ""
	Prefix string  // repository prefix (a namespace with "/"), or ""
	States []State // any of, or all
	Limit  int
}

// MetaStore holds every record of the registry.
type MetaStore interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction that commits when fn
	// returns nil; concurrent Updates (in any process) are serialised or
	// retried by the implementation, never interleaved.
	Update(ctx context.Context, fn func(Tx) error) error
	// Session reads, in one statement, what authenticating a token needs:
	// the token, its user and the user's roles (ErrNotFound: no token).
	Session(ctx context.Context, tokenHash string) (*Session, error)
	// Pull reads, in one statement, the manifest a tag or digest names,
	// without its references (ErrNotFound: none).
	Pull(ctx context.Context, repo, ref string) (*Manifest, error)
	Close() error
}

// Session is a token with its user and roles.
type Session struct {
	Token Token
	User  User
	Roles []Role
}

// Tx is one transaction.
type Tx interface {
	// Blobs known to the registry, and which repositories hold them.
	// PutBlob records a blob with its size and check sum (a faster hash
	// of the same bytes, "blake3:<hex>", taken when they were verified
	// against the digest; "" for none). An existing record keeps its
	// check sum unless it had none.
	PutBlob(ctx context.Context, digest string, size int64, check string) error
	Blob(ctx context.Context, digest string) (size int64, check string, err error)
	DeleteBlob(ctx context.Context, digest string) error
	Blobs(ctx context.Context, fn func(digest string, size int64, check string) error) error
	LinkBlob(ctx context.Context, repo, digest string) error
	UnlinkBlob(ctx context.Context, repo, digest string) error
	BlobLinked(ctx context.Context, repo, digest string) (bool, error)
	// BlobServable reports whether a servable manifest of repo references
	// digest (as config, layer or through a servable index).
	BlobServable(ctx context.Context, repo, digest string) (bool, error)
	// BlobUsers counts the repositories that link digest.
	BlobUsers(ctx context.Context, digest string) (int, error)

	// Manifests.
	PutManifest(ctx context.Context, m *Manifest) (created bool, err error)
	Manifest(ctx context.Context, repo, digest string) (*Manifest, error)
	DeleteManifest(ctx context.Context, repo, digest string) error
	Manifests(ctx context.Context, f ManifestFilter) ([]Manifest, error)
	// ManifestsReferencing lists the manifests of repo that reference
	// digest (blob or child manifest); repo "" means every repository.
	ManifestsReferencing(ctx context.Context, repo, digest string) ([]Manifest, error)
	// SetState moves a version to c.To if it is now in one of from
	// (ErrConflict otherwise).
	SetState(ctx context.Context, repo, digest string, from []State, c StateChange) error
	Referrers(ctx context.Context, repo, subject string) ([]Manifest, error)

	// Tags.
	Tag(ctx context.Context, repo, tag string) (string, error)
	// PutTag points tag at digest. An existing tag pointing elsewhere is
	// moved only when overwrite is set (ErrConflict otherwise); it returns
	// the previous digest ("" for a new tag).
	PutTag(ctx context.Context, repo, tag, digest string, overwrite bool) (string, error)
	DeleteTag(ctx context.Context, repo, tag string) error
	// Tags lists repo's tags in lexical order after last, at most n (n<=0:
	// all).
	Tags(ctx context.Context, repo, last string, n int) ([]string, error)
	TagsOf(ctx context.Context, repo, digest string) ([]string, error)
	AllTags(ctx context.Context, fn func(TagInfo) error) error
	Repositories(ctx context.Context) ([]string, error)

	// Upload sessions.
	PutUpload(ctx context.Context, u *Upload) error
	Upload(ctx context.Context, id string) (*Upload, error)
	// AdvanceUpload records more bytes of an upload that is now at size
	// from (ErrConflict otherwise).
	AdvanceUpload(ctx context.Context, id string, from, to int64, hash []byte) error
	DeleteUpload(ctx context.Context, id string) error
	Uploads(ctx context.Context, olderThan time.Time) ([]Upload, error)

	// Users, tokens, roles.
	PutUser(ctx context.Context, u *User) error
	User(ctx context.Context, name string) (*User, error)
	Users(ctx context.Context) ([]User, error)
	DeleteUser(ctx context.Context, name string) error
	PutToken(ctx context.Context, t *Token) error
	Token(ctx context.Context, hash string) (*Token, error)
	Tokens(ctx context.Context, user string) ([]Token, error)
	DeleteToken(ctx context.Context, hash string) error
	DeleteExpiredTokens(ctx context.Context, now time.Time) error
	SetRole(ctx context.Context, r Role) error
	DeleteRole(ctx context.Context, user, namespace string) error
	Roles(ctx context.Context, user string) ([]Role, error)
	AllRoles(ctx context.Context) ([]Role, error)

	// The audit log: AppendAudit fills Seq; the caller computes Hash from
	// LastAudit's.
	LastAudit(ctx context.Context) (*AuditEntry, error)
	AppendAudit(ctx context.Context, e *AuditEntry) error
	Audit(ctx context.Context, from int64, fn func(*AuditEntry) error) error
	PutCheckpoint(ctx context.Context, c *Checkpoint) error
	Checkpoints(ctx context.Context) ([]Checkpoint, error)

	// Counters for rate limits: Hit adds one to key's count in the window
	// that started at or after since and returns the count.
	Hit(ctx context.Context, key string, since time.Time, now time.Time) (int, error)
	ResetHits(ctx context.Context, key string) error
	// Hits reads key's count in the window that started at or after since.
	Hits(ctx context.Context, key string, since time.Time) (int, error)

	// Settings: small named values (the server's keys, namespace options).
	Setting(ctx context.Context, key string) ([]byte, error)
	PutSetting(ctx context.Context, key string, value []byte) error
}

// BlobStore holds blob bytes by digest ("sha256:<hex>", "sha512:<hex>").
// Implementations verify nothing: the registry hashes what it writes and
// what it reads.
type BlobStore interface {
	// Open returns the blob and its size.
	Open(ctx context.Context, digest string) (Blob, error)
	Stat(ctx context.Context, digest string) (int64, error)
	Delete(ctx context.Context, digest string) error
	// Walk lists every stored blob.
	Walk(ctx context.Context, fn func(digest string, size int64) error) error

	// Append writes p at offset off of upload id (creating it at 0).
	Append(ctx context.Context, id string, off int64, r io.Reader, max int64) (int64, error)
	// OpenUpload reads an upload's bytes so far.
	OpenUpload(ctx context.Context, id string) (Blob, error)
	// Commit makes the first size bytes of upload id the blob digest,
	// durably and atomically: the blob is whole or absent.
	Commit(ctx context.Context, id string, size int64, digest string) error
	AbortUpload(ctx context.Context, id string) error
	// Uploads lists upload ids whose data is older than t.
	Uploads(ctx context.Context, olderThan time.Time) ([]string, error)
}

// Blob is an open blob.
type Blob interface {
	io.ReadSeekCloser
	io.ReaderAt
	Size() int64
}
