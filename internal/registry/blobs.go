package registry

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/zeebo/blake3"

	"github.com/aigis-dev/aigis/internal/registry/store"
	"github.com/aigis-dev/aigis/internal/registry/store/fsblob"
)

// The check sum of a blob is BLAKE3 over its bytes, recorded when they were
// verified against their digest. Blobs are re-hashed with it as they
// stream out: several times faster than SHA-256 on one core, and as good
// a witness of bytes changed at rest, since it was bound to the digest by
// the registry itself. (Whoever can write the MetaStore can rewrite any
// record anyway; fsck checks both hashes.)
const checkAlg = "blake3"

func checkOf(h *blake3.Hasher) string { return checkAlg + ":" + hex.EncodeToString(h.Sum(nil)) }

func checkSum(b []byte) string {
	h := blake3.New()
	h.Write(b)
	return checkOf(h)
}

// verifier returns the hash a blob is re-hashed with on the way out and
// the value it must reach: the check sum when the blob has one, else its
// digest.
func verifier(alg, digest, check string) (hash.Hash, func(hash.Hash) string, string) {
	if strings.HasPrefix(check, checkAlg+":") {
		return blake3.New(), func(h hash.Hash) string { return checkOf(h.(*blake3.Hasher)) }, check
	}
	return newHash(alg), func(h hash.Hash) string { return digestOf(h, alg) }, digest
}

func newHash(alg string) hash.Hash {
	if alg == "sha512" {
		return sha512.New()
	}
	return sha256.New()
}

// blobAccess decides whether p may read digest in repo: only a blob this
// repository holds (never another's, whatever the shared storage holds),
// and only when an approved version references it; HEAD for those who may
// push (uploads check what exists), GET of unapproved bytes for admins.
func (s *Server) blobAccess(ctx context.Context, p *principal, repo, digest string, head bool) (int64, string, error) {
	var size int64
	var check string
	var linked, servable bool
	err := s.o.Meta.View(ctx, func(tx store.Tx) error {
		var err error
		if linked, err = tx.BlobLinked(ctx, repo, digest); err != nil || !linked {
			return err
		}
		if size, check, err = tx.Blob(ctx, digest); err != nil {
			return err
		}
		servable, err = tx.BlobServable(ctx, repo, digest)
		return err
	})
	switch {
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return 0, "", err
	case !linked || err != nil:
		return 0, "", oerr(http.StatusNotFound, codeBlobUnknown, "blob unknown to repository")
	case servable:
		return size, check, nil
	case head && p.can(repo, permPush), p.can(repo, permDelete):
		return size, check, nil
	}
	s.auditQuick(ctx, p.name, "pull-denied", repo+"@"+digest, map[string]any{"reason": "blob of no approved version"})
	return 0, "", oerr(http.StatusForbidden, codeDenied, "blob %s belongs to no approved version of %s", digest, repo)
}

func (s *Server) getBlob(w http.ResponseWriter, r *http.Request, p *principal, rt route) error {
	ctx := r.Context()
	if err := s.authorize(ctx, p, rt.repo, permPull); err != nil {
		return err
	}
	alg, _, derr := parseDigest(rt.ref)
	if derr != nil {
		return derr
	}
	size, check, err := s.blobAccess(ctx, p, rt.repo, rt.ref, r.Method == http.MethodHead)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Docker-Content-Digest", rt.ref)
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Accept-Ranges", "bytes")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
		return nil
	}
	b, err := s.o.Blobs.Open(ctx, rt.ref)
	if err != nil {
		s.integrityFailure(ctx, rt.ref, fmt.Sprintf("blob %s is missing from the blob store", rt.ref))
		return oerr(http.StatusNotFound, codeBlobUnknown, "blob unknown to repository")
	}
	defer b.Close()
	if b.Size() != size {
		s.integrityFailure(ctx, rt.ref, fmt.Sprintf("blob %s is %d bytes at rest, %d when pushed", rt.ref, b.Size(), size))
		return oerr(http.StatusForbidden, codeDenied, "blob %s changed at rest: the versions that use it are quarantined", rt.ref)
	}
	if rg := r.Header.Get("Range"); rg != "" {
		if start, end, ok := parseRange(rg, size); ok {
			return s.serveRange(w, r, b, alg, rt.ref, check, start, end)
		}
		h.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		return nil
	}
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	if !s.streamVerified(w, b, alg, rt.ref, check) {
		s.integrityFailure(ctx, rt.ref, fmt.Sprintf("blob %s no longer hashes to its digest", rt.ref))
		panic(http.ErrAbortHandler) // the client sees a cut response, never the whole changed blob
	}
	return nil
}

// parseRange reads one "bytes=a-b", "bytes=a-" or "bytes=-n" range.
func parseRange(h string, size int64) (start, end int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false
	}
	var err error
	switch {
	case a == "":
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false
		}
		start, end = max(size-n, 0), size-1
	default:
		if start, err = strconv.ParseInt(a, 10, 64); err != nil || start < 0 {
			return 0, 0, false
		}
		end = size - 1
		if b != "" {
			if end, err = strconv.ParseInt(b, 10, 64); err != nil || end < start {
				return 0, 0, false
			}
			end = min(end, size-1)
		}
	}
	return start, end, start < size
}

// serveRange verifies the whole blob first (a range cannot be checked on
// its own), then sends the range.
func (s *Server) serveRange(w http.ResponseWriter, r *http.Request, b store.Blob, alg, digest, check string, start, end int64) error {
	h, sum, want := verifier(alg, digest, check)
	if _, err := io.Copy(h, io.NewSectionReader(b, 0, b.Size())); err != nil {
		return err
	}
	if sum(h) != want {
		s.integrityFailure(r.Context(), digest, fmt.Sprintf("blob %s no longer hashes to its digest", digest))
		return oerr(http.StatusForbidden, codeDenied, "blob %s changed at rest: the versions that use it are quarantined", digest)
	}
	w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, b.Size()))
	w.Header().Set("Content-Length", strconv.FormatInt(end-start+1, 10))
	w.WriteHeader(http.StatusPartialContent)
	_, err := io.Copy(w, io.NewSectionReader(b, start, end-start+1))
	if err != nil {
		return nil // the client went away
	}
	return nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// streamVerified copies b to w while hashing it, holding the last chunk
// back until the digest matches: a blob that changed at rest is never sent
// whole. It reports whether the digest matched (a write error is the
// client's, not the blob's, and counts as a match).
func (s *Server) streamVerified(w io.Writer, b io.Reader, alg, digest, check string) bool {
	h, sum, want := verifier(alg, digest, check)
	p1, p2 := bufPool.Get().(*[]byte), bufPool.Get().(*[]byte)
	defer bufPool.Put(p1)
	defer bufPool.Put(p2)
	cur, held := *p1, *p2
	var heldN int
	writeErr := false
	for {
		n, err := io.ReadFull(b, cur)
		h.Write(cur[:n])
		if heldN > 0 && !writeErr {
			if _, werr := w.Write(held[:heldN]); werr != nil {
				writeErr = true
			}
		}
		cur, held, heldN = held, cur, n
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return false
		}
	}
	if sum(h) != want {
		return false
	}
	if heldN > 0 && !writeErr {
		w.Write(held[:heldN])
	}
	return true
}

func (s *Server) deleteBlob(w http.ResponseWriter, r *http.Request, p *principal, rt route) error {
	ctx := r.Context()
	if err := s.authorize(ctx, p, rt.repo, permDelete); err != nil {
		return err
	}
	if _, _, derr := parseDigest(rt.ref); derr != nil {
		return derr
	}
	err := s.o.Meta.Update(ctx, func(tx store.Tx) error {
		if err := tx.UnlinkBlob(ctx, rt.repo, rt.ref); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, p.name, "blob-delete", rt.repo+"@"+rt.ref, nil)
	})
	if errors.Is(err, store.ErrNotFound) {
		return oerr(http.StatusNotFound, codeBlobUnknown, "blob unknown to repository")
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func newUploadID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func uploadLocation(repo, id string) string { return "/v2/" + repo + "/blobs/uploads/" + id }

func setUploadHeaders(w http.ResponseWriter, repo, id string, size int64) {
	h := w.Header()
	h.Set("Location", uploadLocation(repo, id))
	h.Set("Docker-Upload-UUID", id)
	end := size - 1
	if end < 0 {
		end = 0
	}
	h.Set("Range", fmt.Sprintf("0-%d", end))
	h.Set("Content-Length", "0")
}

func (s *Server) startUpload(w http.ResponseWriter, r *http.Request, p *principal, rt route) error {
	ctx := r.Context()
	if err := s.authorize(ctx, p, rt.repo, permPush); err != nil {
		return err
	}
	q := r.URL.Query()
	if mount := q.Get("mount"); mount != "" {
		done, err := s.mount(ctx, w, p, rt.repo, mount, q.Get("from"))
		if done || err != nil {
			return err
		}
	}
	id := newUploadID()
	now := s.o.Now()
	u := &store.Upload{ID: id, Repo: rt.repo, Owner: p.name, Created: now, Updated: now, Hash: marshalHash(sha256.New())}
	if err := s.o.Meta.Update(ctx, func(tx store.Tx) error { return tx.PutUpload(ctx, u) }); err != nil {
		return err
	}
	if d := q.Get("digest"); d != "" {
		return s.complete(w, r, p, rt.repo, u, d)
	}
	setUploadHeaders(w, rt.repo, id, 0)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// mount links a blob of repository from into repo when p may read it
// there. Anything else (no source, a source p may not read, a blob the
// source does not hold) falls back to an upload: the registry never lets a
// digest alone open another repository's blob.
func (s *Server) mount(ctx context.Context, w http.ResponseWriter, p *principal, repo, digest, from string) (bool, error) {
	if _, _, derr := parseDigest(digest); derr != nil {
		return false, derr
	}
	if from == "" || !validName(from) {
		return false, nil
	}
	if !p.can(from, permPull) {
		s.auditQuick(ctx, p.name, "mount-denied", repo+"@"+digest, map[string]any{"from": from})
		return false, nil
	}
	var ok bool
	err := s.o.Meta.Update(ctx, func(tx store.Tx) error {
		linked, err := tx.BlobLinked(ctx, from, digest)
		if err != nil || !linked {
			return err
		}
		servable, err := tx.BlobServable(ctx, from, digest)
		if err != nil {
			return err
		}
		if !servable && !p.can(from, permPush) {
			return nil
		}
		if err := tx.LinkBlob(ctx, repo, digest); err != nil {
			return err
		}
		ok = true
		return s.appendAudit(ctx, tx, p.name, "mount", repo+"@"+digest, map[string]any{"from": from})
	})
	if err != nil || !ok {
		if !ok && err == nil {
			s.auditQuick(ctx, p.name, "mount-denied", repo+"@"+digest, map[string]any{"from": from})
		}
		return false, err
	}
	w.Header().Set("Location", "/v2/"+repo+"/blobs/"+digest)
	w.Header().Set("Docker-Content-Digest", digest)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return true, nil
}

func marshalHash(h hash.Hash) []byte {
	b, _ := h.(encoding.BinaryMarshaler).MarshalBinary()
	return b
}

func (s *Server) loadUpload(ctx context.Context, p *principal, rt route) (*store.Upload, error) {
	if err := s.authorize(ctx, p, rt.repo, permPush); err != nil {
		return nil, err
	}
	var u *store.Upload
	err := s.o.Meta.View(ctx, func(tx store.Tx) (err error) { u, err = tx.Upload(ctx, rt.ref); return })
	if errors.Is(err, store.ErrNotFound) || (err == nil && (u.Repo != rt.repo || u.Owner != p.name)) {
		return nil, oerr(http.StatusNotFound, codeBlobUploadUnknown, "upload unknown")
	}
	return u, err
}

func (s *Server) uploadStatus(w http.ResponseWriter, r *http.Request, p *principal, rt route) error {
	u, err := s.loadUpload(r.Context(), p, rt)
	if err != nil {
		return err
	}
	setUploadHeaders(w, rt.repo, u.ID, u.Size)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// appendBody writes the request body at the upload's end and records it.
// When the body starts the upload it also returns the check sum of the
// bytes (nil otherwise: complete reads the file for it).
func (s *Server) appendBody(r *http.Request, u *store.Upload, checkRange bool) (*blake3.Hasher, error) {
	ctx := r.Context()
	if cr := r.Header.Get("Content-Range"); cr != "" && checkRange {
		start, _, ok := strings.Cut(strings.TrimPrefix(cr, "bytes="), "-")
		if n, err := strconv.ParseInt(start, 10, 64); !ok || err != nil || n != u.Size {
			return nil, oerr(http.StatusRequestedRangeNotSatisfiable, codeBlobUploadInvalid, "content range %q does not start at the upload's end (%d)", cr, u.Size)
		}
	}
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(u.Hash); err != nil {
		return nil, err
	}
	var c *blake3.Hasher
	var tee io.Writer = h
	if u.Size == 0 {
		c = blake3.New()
		tee = io.MultiWriter(h, c)
	}
	n, err := s.o.Blobs.Append(ctx, u.ID, u.Size, io.TeeReader(r.Body, tee), s.o.MaxBlob-u.Size)
	if errors.Is(err, fsblob.ErrTooLarge) {
		return nil, oerr(http.StatusRequestEntityTooLarge, codeSizeInvalid, "blob larger than %d bytes", s.o.MaxBlob)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, oerr(http.StatusRequestEntityTooLarge, codeSizeInvalid, "request body too large")
	}
	if err != nil {
		return nil, oerr(http.StatusBadRequest, codeBlobUploadInvalid, "reading the upload: %v", err)
	}
	if n == 0 {
		return c, nil
	}
	state := marshalHash(h)
	err = s.o.Meta.Update(ctx, func(tx store.Tx) error { return tx.AdvanceUpload(ctx, u.ID, u.Size, u.Size+n, state) })
	if errors.Is(err, store.ErrConflict) {
		return nil, oerr(http.StatusRequestedRangeNotSatisfiable, codeBlobUploadInvalid, "the upload moved on concurrently")
	}
	if err != nil {
		return nil, err
	}
	u.Size += n
	u.Hash = state
	return c, nil
}

func (s *Server) patchUpload(w http.ResponseWriter, r *http.Request, p *principal, rt route) error {
	u, err := s.loadUpload(r.Context(), p, rt)
	if err != nil {
		return err
	}
	if _, err := s.appendBody(r, u, true); err != nil {
		return err
	}
	setUploadHeaders(w, rt.repo, u.ID, u.Size)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (s *Server) finishUpload(w http.ResponseWriter, r *http.Request, p *principal, rt route) error {
	u, err := s.loadUpload(r.Context(), p, rt)
	if err != nil {
		return err
	}
	return s.complete(w, r, p, rt.repo, u, r.URL.Query().Get("digest"))
}

// complete appends the body, checks the digest and commits the blob; a
// wrong digest drops the upload and stores nothing.
func (s *Server) complete(w http.ResponseWriter, r *http.Request, p *principal, repo string, u *store.Upload, digest string) error {
	ctx := r.Context()
	alg, _, derr := parseDigest(digest)
	if derr != nil {
		s.dropUpload(ctx, u.ID)
		return derr
	}
	c, err := s.appendBody(r, u, true)
	if err != nil {
		return err
	}
	var got string
	if alg == "sha256" && c != nil {
		h := sha256.New()
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(u.Hash); err != nil {
			return err
		}
		got = digestOf(h, "sha256")
	} else if alg == "sha256" {
		h := sha256.New()
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(u.Hash); err != nil {
			return err
		}
		got = digestOf(h, "sha256")
	} else {
		b, err := s.o.Blobs.OpenUpload(ctx, u.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		h := newHash(alg)
		c = blake3.New()
		if b != nil {
			_, err = io.Copy(io.MultiWriter(h, c), io.LimitReader(b, u.Size))
			b.Close()
			if err != nil {
				return err
			}
		}
		got = digestOf(h, alg)
	}
	if got != digest {
		s.dropUpload(ctx, u.ID)
		return oerr(http.StatusBadRequest, codeDigestInvalid, "the upload's digest is %s, not %s", got, digest)
	}
	if c == nil {
		// A chunked sha256 upload: the digest was verified from the saved
		// state; the check sum needs the bytes once more.
		if c, err = s.uploadCheck(ctx, u); err != nil {
			return err
		}
	}
	check := checkOf(c)
	if u.Size == 0 {
		// An empty upload has no file yet.
		if _, err := s.o.Blobs.Append(ctx, u.ID, 0, strings.NewReader(""), 0); err != nil {
			return err
		}
	}
	if err := s.o.Blobs.Commit(ctx, u.ID, u.Size, digest); err != nil {
		return err
	}
	err = s.o.Meta.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutBlob(ctx, digest, u.Size, check); err != nil {
			return err
		}
		if err := tx.LinkBlob(ctx, repo, digest); err != nil {
			return err
		}
		return tx.DeleteUpload(ctx, u.ID)
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v2/"+repo+"/blobs/"+digest)
	w.Header().Set("Docker-Content-Digest", digest)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// uploadCheck hashes an upload's bytes for its check sum.
func (s *Server) uploadCheck(ctx context.Context, u *store.Upload) (*blake3.Hasher, error) {
	c := blake3.New()
	b, err := s.o.Blobs.OpenUpload(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	defer b.Close()
	_, err = io.Copy(c, io.LimitReader(b, u.Size))
	return c, err
}

func digestOf(h hash.Hash, alg string) string { return alg + ":" + hex.EncodeToString(h.Sum(nil)) }

func (s *Server) dropUpload(ctx context.Context, id string) {
	s.o.Blobs.AbortUpload(ctx, id)
	s.o.Meta.Update(context.WithoutCancel(ctx), func(tx store.Tx) error { return tx.DeleteUpload(ctx, id) })
}

func (s *Server) cancelUpload(w http.ResponseWriter, r *http.Request, p *principal, rt route) error {
	u, err := s.loadUpload(r.Context(), p, rt)
	if err != nil {
		return err
	}
	s.dropUpload(r.Context(), u.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
