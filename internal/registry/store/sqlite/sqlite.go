// Package sqlite is the embedded MetaStore: one SQLite database (modernc,
// pure Go) in WAL mode. Write transactions begin IMMEDIATE, so several
// processes sharing the file serialise their changes through SQLite's own
// lock (with a busy timeout), never through an in-process lock alone. The
// audit table refuses UPDATE and DELETE through triggers; its hash chain
// (computed by the registry) is what proves it untouched.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the driver

	"github.com/aigis-dev/aigis/internal/registry/store"
)

// DB is a MetaStore over one SQLite file.
type DB struct {
	w, r   *sql.DB
	ws, rs map[string]*sql.Stmt // prepared statements of each pool
}

const schema = `
CREATE TABLE IF NOT EXISTS blobs(digest TEXT PRIMARY KEY, size INTEGER NOT NULL, created INTEGER NOT NULL, check_sum TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS repo_blobs(repo TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY(repo, digest));
CREATE INDEX IF NOT EXISTS repo_blobs_digest ON repo_blobs(digest);
CREATE TABLE IF NOT EXISTS manifests(
  repo TEXT NOT NULL, digest TEXT NOT NULL, media_type TEXT NOT NULL, artifact_type TEXT NOT NULL,
  subject TEXT NOT NULL, annotations TEXT NOT NULL, content BLOB NOT NULL, pusher TEXT NOT NULL,
  created INTEGER NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL, state_by TEXT NOT NULL,
  state_at INTEGER NOT NULL, gate BLOB, expires INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(repo, digest));
CREATE INDEX IF NOT EXISTS manifests_subject ON manifests(repo, subject);
CREATE TABLE IF NOT EXISTS manifest_refs(repo TEXT NOT NULL, digest TEXT NOT NULL, ref TEXT NOT NULL, kind TEXT NOT NULL,
  size INTEGER NOT NULL, PRIMARY KEY(repo, digest, ref, kind));
CREATE INDEX IF NOT EXISTS manifest_refs_ref ON manifest_refs(repo, ref);
CREATE INDEX IF NOT EXISTS manifest_refs_global ON manifest_refs(ref);
CREATE TABLE IF NOT EXISTS tags(repo TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY(repo, tag));
CREATE INDEX IF NOT EXISTS tags_digest ON tags(repo, digest);
CREATE TABLE IF NOT EXISTS uploads(id TEXT PRIMARY KEY, repo TEXT NOT NULL, owner TEXT NOT NULL, size INTEGER NOT NULL,
  hash BLOB, created INTEGER NOT NULL, updated INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS users(name TEXT PRIMARY KEY, robot INTEGER NOT NULL, password BLOB, key BLOB,
  created INTEGER NOT NULL, disabled INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tokens(hash TEXT PRIMARY KEY, user TEXT NOT NULL, description TEXT NOT NULL,
  created INTEGER NOT NULL, expires INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tokens_user ON tokens(user);
CREATE TABLE IF NOT EXISTS roles(user TEXT NOT NULL, namespace TEXT NOT NULL, role TEXT NOT NULL, PRIMARY KEY(user, namespace));
CREATE TABLE IF NOT EXISTS audit(seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  subject TEXT NOT NULL, details BLOB, hash TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS checkpoints(seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, time INTEGER NOT NULL, key_id TEXT NOT NULL, signature BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS hits(key TEXT PRIMARY KEY, count INTEGER NOT NULL, since INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS settings(key TEXT PRIMARY KEY, value BLOB);
`

// Open opens (creating) the database at path.
func Open(path string) (*DB, error) {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(15000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	w, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", base)
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(8)
	d := &DB{w: w, r: r}
	if _, err := w.Exec(schema); err != nil {
		d.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	d.ws, d.rs = map[string]*sql.Stmt{}, map[string]*sql.Stmt{}
	for _, q := range statements {
		for _, p := range []struct {
			db *sql.DB
			m  map[string]*sql.Stmt
		}{{w, d.ws}, {r, d.rs}} {
			st, err := p.db.Prepare(q)
			if err != nil {
				d.Close()
				return nil, fmt.Errorf("opening %s: preparing %q: %w", path, q, err)
			}
			p.m[q] = st
		}
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error {
	err := d.w.Close()
	if e := d.r.Close(); err == nil {
		err = e
	}
	return err
}

// Exec runs raw SQL on the write connection: tests use it to play an
// attacker with access to the file.
func (d *DB) Exec(q string, args ...any) error {
	_, err := d.w.Exec(q, args...)
	return err
}

// Session reads a token, its user and the user's roles in one statement.
func (d *DB) Session(ctx context.Context, hash string) (*store.Session, error) {
	rows, err := d.rs[qSession].QueryContext(ctx, hash)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var s *store.Session
	for rows.Next() {
		var t store.Token
		var u store.User
		var c, e, uc int64
		var robot, disabled int
		var ns, role sql.NullString
		if err := rows.Scan(&t.Hash, &t.User, &t.Description, &c, &e, &u.Name, &robot, &uc, &disabled, &ns, &role); err != nil {
			return nil, err
		}
		if s == nil {
			t.Created, t.Expires = fromNS(c), fromNS(e)
			u.Robot, u.Disabled, u.Created = robot != 0, disabled != 0, fromNS(uc)
			s = &store.Session{Token: t, User: u}
		}
		if ns.Valid {
			s.Roles = append(s.Roles, store.Role{User: u.Name, Namespace: ns.String, Role: role.String})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if s == nil {
		return nil, store.ErrNotFound
	}
	return s, nil
}

// Pull reads the manifest a tag or digest names in one statement.
func (d *DB) Pull(ctx context.Context, repo, ref string) (*store.Manifest, error) {
	q := qPullDigest
	if !strings.Contains(ref, ":") {
		q = qPullTag
	}
	m, err := scanManifest(d.rs[q].QueryRowContext(ctx, repo, ref))
	return m, notFound(err)
}

// View runs fn in a read transaction.
func (d *DB) View(ctx context.Context, fn func(store.Tx) error) error {
	t, err := d.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer t.Rollback()
	return fn(&tx{t, d.rs})
}

// Update runs fn in an IMMEDIATE write transaction.
func (d *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := d.update(ctx, fn)
		if err != nil && isBusy(err) && attempt < 5 && ctx.Err() == nil {
			time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
			continue
		}
		return err
	}
}

func (d *DB) update(ctx context.Context, fn func(store.Tx) error) error {
	t, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(&tx{t, d.ws}); err != nil {
		t.Rollback()
		return err
	}
	return t.Commit()
}

func isBusy(err error) bool {
	s := err.Error()
	return strings.Contains(s, "SQLITE_BUSY") || strings.Contains(s, "database is locked")
}

type tx struct {
	t     *sql.Tx
	stmts map[string]*sql.Stmt
}

func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// The statements the store runs, prepared once per connection: parsing
// SQL is most of the cost of a short query.
var statements []string

func prep(q string) string {
	statements = append(statements, q)
	return q
}

func (x *tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if s, ok := x.stmts[q]; ok {
		return x.t.StmtContext(ctx, s).ExecContext(ctx, args...)
	}
	return x.t.ExecContext(ctx, q, args...)
}

func (x *tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if s, ok := x.stmts[q]; ok {
		return x.t.StmtContext(ctx, s).QueryRowContext(ctx, args...)
	}
	return x.t.QueryRowContext(ctx, q, args...)
}

func (x *tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if s, ok := x.stmts[q]; ok {
		return x.t.StmtContext(ctx, s).QueryContext(ctx, args...)
	}
	return x.t.QueryContext(ctx, q, args...)
}

var qPutBlob = prep(`INSERT INTO blobs(digest,size,created,check_sum) VALUES(?,?,?,?)
		ON CONFLICT(digest) DO UPDATE SET check_sum=excluded.check_sum WHERE blobs.check_sum=''`)

func (x *tx) PutBlob(ctx context.Context, digest string, size int64, check string) error {
	_, err := x.exec(ctx, qPutBlob, digest, size, time.Now().UnixNano(), check)
	return err
}

var qBlob = prep(`SELECT size,check_sum FROM blobs WHERE digest=?`)

func (x *tx) Blob(ctx context.Context, digest string) (int64, string, error) {
	var n int64
	var check string
	err := x.queryRow(ctx, qBlob, digest).Scan(&n, &check)
	return n, check, notFound(err)
}

var qDeleteBlob = prep(`DELETE FROM blobs WHERE digest=?`)

var qDeleteBlob2 = prep(`DELETE FROM repo_blobs WHERE digest=?`)

func (x *tx) DeleteBlob(ctx context.Context, digest string) error {
	_, err := x.exec(ctx, qDeleteBlob, digest)
	if err == nil {
		_, err = x.exec(ctx, qDeleteBlob2, digest)
	}
	return err
}

var qBlobs = prep(`SELECT digest,size,check_sum FROM blobs ORDER BY digest`)

func (x *tx) Blobs(ctx context.Context, fn func(string, int64, string) error) error {
	rows, err := x.query(ctx, qBlobs)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var d, c string
		var n int64
		if err := rows.Scan(&d, &n, &c); err != nil {
			return err
		}
		if err := fn(d, n, c); err != nil {
			return err
		}
	}
	return rows.Err()
}

var qLinkBlob = prep(`INSERT INTO repo_blobs(repo,digest) VALUES(?,?) ON CONFLICT DO NOTHING`)

func (x *tx) LinkBlob(ctx context.Context, repo, digest string) error {
	_, err := x.exec(ctx, qLinkBlob, repo, digest)
	return err
}

var qUnlinkBlob = prep(`DELETE FROM repo_blobs WHERE repo=? AND digest=?`)

func (x *tx) UnlinkBlob(ctx context.Context, repo, digest string) error {
	res, err := x.exec(ctx, qUnlinkBlob, repo, digest)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (x *tx) exists(ctx context.Context, q string, args ...any) (bool, error) {
	var one int
	err := x.queryRow(ctx, q, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

var qBlobLinked = prep(`SELECT 1 FROM repo_blobs WHERE repo=? AND digest=?`)

func (x *tx) BlobLinked(ctx context.Context, repo, digest string) (bool, error) {
	return x.exists(ctx, qBlobLinked, repo, digest)
}

var qBlobServable = prep(`SELECT 1 FROM manifest_refs r JOIN manifests m ON m.repo=r.repo AND m.digest=r.digest
		WHERE r.repo=? AND r.ref=? AND r.kind IN ('config','layer') AND m.state IN ('approved','attached') LIMIT 1`)

func (x *tx) BlobServable(ctx context.Context, repo, digest string) (bool, error) {
	return x.exists(ctx, qBlobServable, repo, digest)
}

var qBlobUsers = prep(`SELECT count(*) FROM repo_blobs WHERE digest=?`)

func (x *tx) BlobUsers(ctx context.Context, digest string) (int, error) {
	var n int
	err := x.queryRow(ctx, qBlobUsers, digest).Scan(&n)
	return n, err
}

const manifestCols = `repo,digest,media_type,artifact_type,subject,annotations,content,pusher,created,state,reason,state_by,state_at,gate,expires`

// prefixedCols are manifestCols of the table aliased m.
const prefixedCols = `m.repo,m.digest,m.media_type,m.artifact_type,m.subject,m.annotations,m.content,m.pusher,m.created,m.state,m.reason,m.state_by,m.state_at,m.gate,m.expires`

var qPutManifest = prep(`INSERT INTO manifests(` + manifestCols + `) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(repo,digest) DO NOTHING`)

var qPutManifest2 = prep(`INSERT INTO manifest_refs(repo,digest,ref,kind,size) VALUES(?,?,?,?,?) ON CONFLICT DO NOTHING`)

func (x *tx) PutManifest(ctx context.Context, m *store.Manifest) (bool, error) {
	ann, err := json.Marshal(m.Annotations)
	if err != nil {
		return false, err
	}
	res, err := x.exec(ctx, qPutManifest,
		m.Repo, m.Digest, m.MediaType, m.ArtifactType, m.Subject, string(ann), m.Content, m.Pusher, ns(m.Created),
		string(m.State), m.Reason, m.StateBy, ns(m.StateAt), m.Gate, ns(m.Expires))
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	for _, r := range m.Refs {
		if _, err := x.exec(ctx, qPutManifest2,
			m.Repo, m.Digest, r.Digest, r.Kind, r.Size); err != nil {
			return false, err
		}
	}
	return true, nil
}

type scanner interface{ Scan(...any) error }

func scanManifest(s scanner) (*store.Manifest, error) {
	var m store.Manifest
	var ann, state string
	var created, stateAt, expires int64
	if err := s.Scan(&m.Repo, &m.Digest, &m.MediaType, &m.ArtifactType, &m.Subject, &ann, &m.Content, &m.Pusher,
		&created, &state, &m.Reason, &m.StateBy, &stateAt, &m.Gate, &expires); err != nil {
		return nil, err
	}
	m.Created, m.StateAt, m.State, m.Expires = fromNS(created), fromNS(stateAt), store.State(state), fromNS(expires)
	if ann != "" && ann != "null" {
		if err := json.Unmarshal([]byte(ann), &m.Annotations); err != nil {
			return nil, err
		}
	}
	return &m, nil
}

var qrefs = prep(`SELECT ref,kind,size FROM manifest_refs WHERE repo=? AND digest=? ORDER BY kind,ref`)

func (x *tx) refs(ctx context.Context, m *store.Manifest) error {
	rows, err := x.query(ctx, qrefs, m.Repo, m.Digest)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r store.Ref
		if err := rows.Scan(&r.Digest, &r.Kind, &r.Size); err != nil {
			return err
		}
		m.Refs = append(m.Refs, r)
	}
	return rows.Err()
}

var qManifest = prep(`SELECT ` + manifestCols + ` FROM manifests WHERE repo=? AND digest=?`)

func (x *tx) Manifest(ctx context.Context, repo, digest string) (*store.Manifest, error) {
	m, err := scanManifest(x.queryRow(ctx, qManifest, repo, digest))
	if err != nil {
		return nil, notFound(err)
	}
	return m, x.refs(ctx, m)
}

func (x *tx) queryManifests(ctx context.Context, q string, args ...any) ([]store.Manifest, error) {
	rows, err := x.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var out []store.Manifest
	for rows.Next() {
		m, err := scanManifest(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, *m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if err := x.refs(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

var qDeleteManifest = prep(`DELETE FROM manifests WHERE repo=? AND digest=?`)

var qDeleteManifest2 = prep(`DELETE FROM manifest_refs WHERE repo=? AND digest=?`)

var qDeleteManifest3 = prep(`DELETE FROM tags WHERE repo=? AND digest=?`)

func (x *tx) DeleteManifest(ctx context.Context, repo, digest string) error {
	res, err := x.exec(ctx, qDeleteManifest, repo, digest)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	if _, err := x.exec(ctx, qDeleteManifest2, repo, digest); err != nil {
		return err
	}
	_, err = x.exec(ctx, qDeleteManifest3, repo, digest)
	return err
}

func (x *tx) Manifests(ctx context.Context, f store.ManifestFilter) ([]store.Manifest, error) {
	q := `SELECT ` + manifestCols + ` FROM manifests WHERE 1=1`
	var args []any
	if f.Repo != "" {
		q += ` AND repo=?`
		args = append(args, f.Repo)
	}
	if f.Digest != "" {
		q += ` AND digest=?`
		args = append(args, f.Digest)
	}
	if f.Prefix != "" {
		q += ` AND substr(repo,1,?)=?`
		args = append(args, len(f.Prefix), f.Prefix)
	}
	if len(f.States) > 0 {
		q += ` AND state IN (` + strings.TrimSuffix(strings.Repeat("?,", len(f.States)), ",") + `)`
		for _, s := range f.States {
			args = append(args, string(s))
		}
	}
	q += ` ORDER BY repo, created, digest`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	return x.queryManifests(ctx, q, args...)
}

func (x *tx) ManifestsReferencing(ctx context.Context, repo, digest string) ([]store.Manifest, error) {
	q := `SELECT ` + prefixed("m.", manifestCols) + ` FROM manifests m WHERE EXISTS (SELECT 1 FROM manifest_refs r
		WHERE r.repo=m.repo AND r.digest=m.digest AND r.ref=? AND r.kind<>'subject')`
	args := []any{digest}
	if repo != "" {
		q += ` AND m.repo=?`
		args = append(args, repo)
	}
	return x.queryManifests(ctx, q+` ORDER BY m.repo, m.digest`, args...)
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ",")
}

func (x *tx) SetState(ctx context.Context, repo, digest string, from []store.State, c store.StateChange) error {
	q := `UPDATE manifests SET state=?, state_by=?, reason=?, state_at=?, expires=?`
	args := []any{string(c.To), c.By, c.Reason, time.Now().UnixNano(), ns(c.Expires)}
	switch {
	case c.ClearGate:
		q += `, gate=NULL`
	case c.Gate != nil:
		q += `, gate=?`
		args = append(args, c.Gate)
	}
	q += ` WHERE repo=? AND digest=?`
	args = append(args, repo, digest)
	if len(from) > 0 {
		q += ` AND state IN (` + strings.TrimSuffix(strings.Repeat("?,", len(from)), ",") + `)`
		for _, s := range from {
			args = append(args, string(s))
		}
	}
	res, err := x.exec(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := x.Manifest(ctx, repo, digest); err != nil {
			return err
		}
		return store.ErrConflict
	}
	return nil
}

func (x *tx) Referrers(ctx context.Context, repo, subject string) ([]store.Manifest, error) {
	return x.queryManifests(ctx, `SELECT `+manifestCols+` FROM manifests WHERE repo=? AND subject=? ORDER BY created, digest`, repo, subject)
}

var qTag = prep(`SELECT digest FROM tags WHERE repo=? AND tag=?`)

func (x *tx) Tag(ctx context.Context, repo, tag string) (string, error) {
	var d string
	err := x.queryRow(ctx, qTag, repo, tag).Scan(&d)
	return d, notFound(err)
}

var qPutTag = prep(`INSERT INTO tags(repo,tag,digest,updated) VALUES(?,?,?,?)
		ON CONFLICT(repo,tag) DO UPDATE SET digest=excluded.digest, updated=excluded.updated`)

func (x *tx) PutTag(ctx context.Context, repo, tag, digest string, overwrite bool) (string, error) {
	prev, err := x.Tag(ctx, repo, tag)
	switch {
	case errors.Is(err, store.ErrNotFound):
		prev = ""
	case err != nil:
		return "", err
	case prev == digest:
		return prev, nil
	case !overwrite:
		return prev, store.ErrConflict
	}
	_, err = x.exec(ctx, qPutTag, repo, tag, digest, time.Now().UnixNano())
	return prev, err
}

var qDeleteTag = prep(`DELETE FROM tags WHERE repo=? AND tag=?`)

func (x *tx) DeleteTag(ctx context.Context, repo, tag string) error {
	res, err := x.exec(ctx, qDeleteTag, repo, tag)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (x *tx) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := x.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func (x *tx) Tags(ctx context.Context, repo, last string, n int) ([]string, error) {
	q := `SELECT tag FROM tags WHERE repo=? AND tag>? ORDER BY tag`
	if n > 0 {
		q += fmt.Sprintf(` LIMIT %d`, n)
	}
	return x.strings(ctx, q, repo, last)
}

func (x *tx) TagsOf(ctx context.Context, repo, digest string) ([]string, error) {
	return x.strings(ctx, `SELECT tag FROM tags WHERE repo=? AND digest=? ORDER BY tag`, repo, digest)
}

var qAllTags = prep(`SELECT repo,tag,digest,updated FROM tags ORDER BY repo,tag`)

func (x *tx) AllTags(ctx context.Context, fn func(store.TagInfo) error) error {
	rows, err := x.query(ctx, qAllTags)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var t store.TagInfo
		var u int64
		if err := rows.Scan(&t.Repo, &t.Tag, &t.Digest, &u); err != nil {
			return err
		}
		t.Updated = fromNS(u)
		if err := fn(t); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (x *tx) Repositories(ctx context.Context) ([]string, error) {
	return x.strings(ctx, `SELECT DISTINCT repo FROM manifests ORDER BY repo`)
}

var qPutUpload = prep(`INSERT INTO uploads(id,repo,owner,size,hash,created,updated) VALUES(?,?,?,?,?,?,?)`)

func (x *tx) PutUpload(ctx context.Context, u *store.Upload) error {
	_, err := x.exec(ctx, qPutUpload,
		u.ID, u.Repo, u.Owner, u.Size, u.Hash, ns(u.Created), ns(u.Updated))
	return err
}

var qUpload = prep(`SELECT id,repo,owner,size,hash,created,updated FROM uploads WHERE id=?`)

func (x *tx) Upload(ctx context.Context, id string) (*store.Upload, error) {
	var u store.Upload
	var c, up int64
	err := x.queryRow(ctx, qUpload, id).
		Scan(&u.ID, &u.Repo, &u.Owner, &u.Size, &u.Hash, &c, &up)
	if err != nil {
		return nil, notFound(err)
	}
	u.Created, u.Updated = fromNS(c), fromNS(up)
	return &u, nil
}

var qAdvanceUpload = prep(`UPDATE uploads SET size=?, hash=?, updated=? WHERE id=? AND size=?`)

func (x *tx) AdvanceUpload(ctx context.Context, id string, from, to int64, hash []byte) error {
	res, err := x.exec(ctx, qAdvanceUpload, to, hash, time.Now().UnixNano(), id, from)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := x.Upload(ctx, id); err != nil {
			return err
		}
		return store.ErrConflict
	}
	return nil
}

var qDeleteUpload = prep(`DELETE FROM uploads WHERE id=?`)

func (x *tx) DeleteUpload(ctx context.Context, id string) error {
	_, err := x.exec(ctx, qDeleteUpload, id)
	return err
}

var qUploads = prep(`SELECT id,repo,owner,size,created,updated FROM uploads WHERE updated<? ORDER BY id`)

func (x *tx) Uploads(ctx context.Context, older time.Time) ([]store.Upload, error) {
	rows, err := x.query(ctx, qUploads, ns(older))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Upload
	for rows.Next() {
		var u store.Upload
		var c, up int64
		if err := rows.Scan(&u.ID, &u.Repo, &u.Owner, &u.Size, &c, &up); err != nil {
			return nil, err
		}
		u.Created, u.Updated = fromNS(c), fromNS(up)
		out = append(out, u)
	}
	return out, rows.Err()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

var qPutUser = prep(`INSERT INTO users(name,robot,password,key,created,disabled) VALUES(?,?,?,?,?,?)
		ON CONFLICT(name) DO UPDATE SET robot=excluded.robot, password=excluded.password, key=excluded.key, disabled=excluded.disabled`)

func (x *tx) PutUser(ctx context.Context, u *store.User) error {
	_, err := x.exec(ctx, qPutUser,
		u.Name, b2i(u.Robot), u.Password, u.Key, ns(u.Created), b2i(u.Disabled))
	return err
}

var qUser = prep(`SELECT name,robot,password,key,created,disabled FROM users WHERE name=?`)

func (x *tx) User(ctx context.Context, name string) (*store.User, error) {
	var u store.User
	var robot, disabled int
	var c int64
	err := x.queryRow(ctx, qUser, name).
		Scan(&u.Name, &robot, &u.Password, &u.Key, &c, &disabled)
	if err != nil {
		return nil, notFound(err)
	}
	u.Robot, u.Disabled, u.Created = robot != 0, disabled != 0, fromNS(c)
	return &u, nil
}

func (x *tx) Users(ctx context.Context) ([]store.User, error) {
	names, err := x.strings(ctx, `SELECT name FROM users ORDER BY name`)
	if err != nil {
		return nil, err
	}
	out := make([]store.User, 0, len(names))
	for _, n := range names {
		u, err := x.User(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	return out, nil
}

var qDeleteUser = prep(`DELETE FROM users WHERE name=?`)

var qDeleteUser2 = prep(`DELETE FROM tokens WHERE user=?`)

var qDeleteUser3 = prep(`DELETE FROM roles WHERE user=?`)

func (x *tx) DeleteUser(ctx context.Context, name string) error {
	res, err := x.exec(ctx, qDeleteUser, name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	if _, err := x.exec(ctx, qDeleteUser2, name); err != nil {
		return err
	}
	_, err = x.exec(ctx, qDeleteUser3, name)
	return err
}

var qPutToken = prep(`INSERT INTO tokens(hash,user,description,created,expires) VALUES(?,?,?,?,?)`)

func (x *tx) PutToken(ctx context.Context, t *store.Token) error {
	_, err := x.exec(ctx, qPutToken,
		t.Hash, t.User, t.Description, ns(t.Created), ns(t.Expires))
	return err
}

func scanToken(s scanner) (*store.Token, error) {
	var t store.Token
	var c, e int64
	if err := s.Scan(&t.Hash, &t.User, &t.Description, &c, &e); err != nil {
		return nil, err
	}
	t.Created, t.Expires = fromNS(c), fromNS(e)
	return &t, nil
}

var qToken = prep(`SELECT hash,user,description,created,expires FROM tokens WHERE hash=?`)

func (x *tx) Token(ctx context.Context, hash string) (*store.Token, error) {
	t, err := scanToken(x.queryRow(ctx, qToken, hash))
	return t, notFound(err)
}

var qTokens = prep(`SELECT hash,user,description,created,expires FROM tokens WHERE user=? ORDER BY created`)

func (x *tx) Tokens(ctx context.Context, user string) ([]store.Token, error) {
	rows, err := x.query(ctx, qTokens, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	return out, rows.Err()
}

var qDeleteToken = prep(`DELETE FROM tokens WHERE hash=?`)

func (x *tx) DeleteToken(ctx context.Context, hash string) error {
	res, err := x.exec(ctx, qDeleteToken, hash)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

var qDeleteExpiredTokens = prep(`DELETE FROM tokens WHERE expires<?`)

func (x *tx) DeleteExpiredTokens(ctx context.Context, now time.Time) error {
	_, err := x.exec(ctx, qDeleteExpiredTokens, ns(now))
	return err
}

var qSetRole = prep(`INSERT INTO roles(user,namespace,role) VALUES(?,?,?) ON CONFLICT(user,namespace) DO UPDATE SET role=excluded.role`)

func (x *tx) SetRole(ctx context.Context, r store.Role) error {
	_, err := x.exec(ctx, qSetRole,
		r.User, r.Namespace, r.Role)
	return err
}

var qDeleteRole = prep(`DELETE FROM roles WHERE user=? AND namespace=?`)

func (x *tx) DeleteRole(ctx context.Context, user, namespace string) error {
	res, err := x.exec(ctx, qDeleteRole, user, namespace)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (x *tx) roles(ctx context.Context, q string, args ...any) ([]store.Role, error) {
	rows, err := x.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Role
	for rows.Next() {
		var r store.Role
		if err := rows.Scan(&r.User, &r.Namespace, &r.Role); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (x *tx) Roles(ctx context.Context, user string) ([]store.Role, error) {
	return x.roles(ctx, `SELECT user,namespace,role FROM roles WHERE user=? ORDER BY namespace`, user)
}

func (x *tx) AllRoles(ctx context.Context) ([]store.Role, error) {
	return x.roles(ctx, `SELECT user,namespace,role FROM roles ORDER BY user,namespace`)
}

var qLastAudit = prep(`SELECT seq,time,actor,action,subject,details,hash FROM audit ORDER BY seq DESC LIMIT 1`)

func (x *tx) LastAudit(ctx context.Context) (*store.AuditEntry, error) {
	e, err := scanAudit(x.queryRow(ctx, qLastAudit))
	return e, notFound(err)
}

func scanAudit(s scanner) (*store.AuditEntry, error) {
	var e store.AuditEntry
	var t int64
	var d []byte
	if err := s.Scan(&e.Seq, &t, &e.Actor, &e.Action, &e.Subject, &d, &e.Hash); err != nil {
		return nil, err
	}
	e.Time = fromNS(t)
	if len(d) > 0 {
		e.Details = d
	}
	return &e, nil
}

var qAppendAudit = prep(`INSERT INTO audit(seq,time,actor,action,subject,details,hash) VALUES(?,?,?,?,?,?,?)`)

func (x *tx) AppendAudit(ctx context.Context, e *store.AuditEntry) error {
	var details []byte
	if len(e.Details) > 0 {
		details = e.Details
	}
	_, err := x.exec(ctx, qAppendAudit,
		e.Seq, ns(e.Time), e.Actor, e.Action, e.Subject, details, e.Hash)
	return err
}

var qAudit = prep(`SELECT seq,time,actor,action,subject,details,hash FROM audit WHERE seq>=? ORDER BY seq`)

func (x *tx) Audit(ctx context.Context, from int64, fn func(*store.AuditEntry) error) error {
	rows, err := x.query(ctx, qAudit, from)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

var qPutCheckpoint = prep(`INSERT INTO checkpoints(seq,hash,time,key_id,signature) VALUES(?,?,?,?,?) ON CONFLICT(seq) DO NOTHING`)

func (x *tx) PutCheckpoint(ctx context.Context, c *store.Checkpoint) error {
	_, err := x.exec(ctx, qPutCheckpoint,
		c.Seq, c.Hash, ns(c.Time), c.KeyID, c.Signature)
	return err
}

var qCheckpoints = prep(`SELECT seq,hash,time,key_id,signature FROM checkpoints ORDER BY seq`)

func (x *tx) Checkpoints(ctx context.Context) ([]store.Checkpoint, error) {
	rows, err := x.query(ctx, qCheckpoints)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Checkpoint
	for rows.Next() {
		var c store.Checkpoint
		var t int64
		if err := rows.Scan(&c.Seq, &c.Hash, &t, &c.KeyID, &c.Signature); err != nil {
			return nil, err
		}
		c.Time = fromNS(t)
		out = append(out, c)
	}
	return out, rows.Err()
}

var qHit = prep(`INSERT INTO hits(key,count,since) VALUES(?,1,?)
		ON CONFLICT(key) DO UPDATE SET count=CASE WHEN since<? THEN 1 ELSE count+1 END,
		since=CASE WHEN since<? THEN excluded.since ELSE since END`)

var qHit2 = prep(`SELECT count FROM hits WHERE key=?`)

func (x *tx) Hit(ctx context.Context, key string, since, now time.Time) (int, error) {
	_, err := x.exec(ctx, qHit, key, ns(now), ns(since), ns(since))
	if err != nil {
		return 0, err
	}
	var n int
	err = x.queryRow(ctx, qHit2, key).Scan(&n)
	return n, err
}

var qHits = prep(`SELECT count FROM hits WHERE key=? AND since>=?`)

func (x *tx) Hits(ctx context.Context, key string, since time.Time) (int, error) {
	var n int
	err := x.queryRow(ctx, qHits, key, ns(since)).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

var qResetHits = prep(`DELETE FROM hits WHERE key=?`)

func (x *tx) ResetHits(ctx context.Context, key string) error {
	_, err := x.exec(ctx, qResetHits, key)
	return err
}

var qSetting = prep(`SELECT value FROM settings WHERE key=?`)

func (x *tx) Setting(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := x.queryRow(ctx, qSetting, key).Scan(&v)
	return v, notFound(err)
}

var qPutSetting = prep(`INSERT INTO settings(key,value) VALUES(?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value`)

func (x *tx) PutSetting(ctx context.Context, key string, value []byte) error {
	_, err := x.exec(ctx, qPutSetting, key, value)
	return err
}

// Statements prepared at Open that no single method owns.
var (
	qSession = prep(`SELECT t.hash,t.user,t.description,t.created,t.expires,u.name,u.robot,u.created,u.disabled,r.namespace,r.role
		FROM tokens t JOIN users u ON u.name=t.user LEFT JOIN roles r ON r.user=u.name WHERE t.hash=? ORDER BY r.namespace`)
	qPullTag    = prep(`SELECT ` + prefixedCols + ` FROM tags t JOIN manifests m ON m.repo=t.repo AND m.digest=t.digest WHERE t.repo=? AND t.tag=?`)
	qPullDigest = prep(`SELECT ` + manifestCols + ` FROM manifests WHERE repo=? AND digest=?`)
)

var _ store.MetaStore = (*DB)(nil)
