package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/aigis-dev/aigis/internal/registry/gate"
	"github.com/aigis-dev/aigis/internal/registry/queue"
	"github.com/aigis-dev/aigis/internal/registry/store"
)

// integrityPrefix marks the reason of a version quarantined because its
// bytes changed at rest; such versions wait for a person, not a gate.
const integrityPrefix = "integrity: "

// requeuePending enqueues every pending version no gate has looked at: a
// job lost in a crash (or never delivered) is picked up at the next start.
func (s *Server) requeuePending(ctx context.Context) error {
	var ms []store.Manifest
	err := s.o.Meta.View(ctx, func(tx store.Tx) (err error) {
		ms, err = tx.Manifests(ctx, store.ManifestFilter{States: []store.State{store.Pending}})
		return
	})
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.Gate == nil && !strings.HasPrefix(m.Reason, integrityPrefix) {
			s.queue.Enqueue(ctx, queue.Job{Repo: m.Repo, Digest: m.Digest})
		}
	}
	return nil
}

func (s *Server) gateWorker(ctx context.Context) {
	defer s.wg.Done()
	for {
		j, err := s.queue.Dequeue(ctx)
		if err != nil {
			return
		}
		if err := s.runGate(ctx, j); err != nil && ctx.Err() == nil {
			s.log.Error("gate job", "repo", j.Repo, "digest", j.Digest, "err", err)
		}
	}
}

// GateResultDigest is the digest an approval names for the gate result it
// saw.
func GateResultDigest(gateJSON []byte) string {
	h := sha256.Sum256(gateJSON)
	return "sha256:" + hex.EncodeToString(h[:])
}

// runGate gates one version. It is idempotent: a version that is no longer
// pending, or was gated already, is left alone.
func (s *Server) runGate(ctx context.Context, j queue.Job) error {
	var m *store.Manifest
	var refs []store.Manifest
	err := s.o.Meta.View(ctx, func(tx store.Tx) error {
		var err error
		if m, err = tx.Manifest(ctx, j.Repo, j.Digest); err != nil {
			return err
		}
		refs, err = tx.Referrers(ctx, j.Repo, j.Digest)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.State != store.Pending || m.Gate != nil || strings.HasPrefix(m.Reason, integrityPrefix) {
		return nil
	}
	mode := s.mode(j.Repo)
	src := &verifiedSource{s: s, repo: j.Repo}
	a := gate.Artifact{Repository: j.Repo, Digest: j.Digest, MediaType: m.MediaType, Manifest: m.Content, Blobs: src, PushedAt: m.Created}
	for _, r := range refs {
		a.Referrers = append(a.Referrers, r.Content)
	}
	if err := s.childReferrers(ctx, m, &a); err != nil {
		return err
	}
	res, gerr := s.o.Gate(ctx, a, s.gateConfig(j.Repo))
	src.close()
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: the next start gates it again
	}
	if gerr != nil || res == nil {
		reason := "the gate could not run"
		if gerr != nil {
			reason = "the gate could not run: " + gerr.Error()
		}
		res = &gate.Result{Version: gate.Version, Allowed: false, Reasons: []string{reason}}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	c := store.StateChange{To: store.Pending, By: "gate", Reason: "pending approval", Gate: b}
	switch {
	case !res.Allowed:
		c.To, c.Reason = store.Rejected, "gate failed: "+strings.Join(res.Reasons, "; ")
		if len(res.Reasons) == 0 {
			c.Reason = "gate failed"
		}
	case mode == GateAuto:
		c.To, c.Reason = store.Approved, "gate passed; namespace approves automatically"
	}
	// The AI-BOM the gate wrote is attached to the version.
	var bomRef *store.Manifest
	if len(res.BOM) > 0 {
		if bomRef, err = s.storeReferrer(ctx, j.Repo, m, BOMArtifactType, BOMArtifactType, res.BOM, map[string]string{
			"org.opencontainers.image.created": m.Created.UTC().Format(time.RFC3339), "dev.aigis.gate.version": res.Version}, "gate"); err != nil {
			return err
		}
	}
	return s.o.Meta.Update(ctx, func(tx store.Tx) error {
		if bomRef != nil {
			if _, err := tx.PutManifest(ctx, bomRef); err != nil {
				return err
			}
		}
		err := tx.SetState(ctx, j.Repo, j.Digest, []store.State{store.Pending}, c)
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			return nil // decided meanwhile
		}
		if err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, "gate", "gate", j.Repo+"@"+j.Digest, map[string]any{
			"allowed": res.Allowed, "reasons": res.Reasons, "version": res.Version, "state": string(c.To), "result": GateResultDigest(b)})
	})
}

// BOMArtifactType is the artifact type of the AI-BOM the gate attaches.
const BOMArtifactType = "application/vnd.cyclonedx+json"

// childReferrers gives the gate, for an index, the referrers of each
// manifest it lists.
func (s *Server) childReferrers(ctx context.Context, m *store.Manifest, a *gate.Artifact) error {
	if !isIndex(m.MediaType) {
		return nil
	}
	return s.o.Meta.View(ctx, func(tx store.Tx) error {
		for _, r := range m.Refs {
			if r.Kind != "manifest" {
				continue
			}
			refs, err := tx.Referrers(ctx, m.Repo, r.Digest)
			if err != nil {
				return err
			}
			if a.ChildReferrers == nil {
				a.ChildReferrers = map[string][][]byte{}
			}
			for _, x := range refs {
				a.ChildReferrers[r.Digest] = append(a.ChildReferrers[r.Digest], x.Content)
			}
		}
		return nil
	})
}

// verifiedSource hands the gate blobs of one repository, each hashed
// whole and checked against its digest before the gate reads it, and the
// repository's manifests (the children of an index), checked the same way.
type verifiedSource struct {
	s     *Server
	repo  string
	mu    sync.Mutex
	open_ []io.Closer
}

func (v *verifiedSource) Open(ctx context.Context, digest string) (io.ReaderAt, int64, error) {
	alg, _, derr := parseDigest(digest)
	if derr != nil {
		return nil, 0, derr
	}
	var linked bool
	var manifest []byte
	err := v.s.o.Meta.View(ctx, func(tx store.Tx) (err error) {
		if linked, err = tx.BlobLinked(ctx, v.repo, digest); err != nil || linked {
			return err
		}
		m, err := tx.Manifest(ctx, v.repo, digest)
		if err == nil {
			manifest = m.Content
		} else if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if manifest != nil {
		h := newHash(alg)
		h.Write(manifest)
		if digestOf(h, alg) != digest {
			v.s.integrityFailure(ctx, digest, fmt.Sprintf("manifest %s no longer hashes to its digest", digest))
			return nil, 0, fmt.Errorf("manifest %s changed at rest", digest)
		}
		return bytes.NewReader(manifest), int64(len(manifest)), nil
	}
	if !linked {
		return nil, 0, fmt.Errorf("blob %s is not in %s", digest, v.repo)
	}
	b, err := v.s.o.Blobs.Open(ctx, digest)
	if err != nil {
		return nil, 0, err
	}
	h := newHash(alg)
	if _, err := io.Copy(h, io.NewSectionReader(b, 0, b.Size())); err != nil {
		b.Close()
		return nil, 0, err
	}
	if digestOf(h, alg) != digest {
		b.Close()
		v.s.integrityFailure(ctx, digest, fmt.Sprintf("blob %s no longer hashes to its digest", digest))
		return nil, 0, fmt.Errorf("blob %s changed at rest", digest)
	}
	v.mu.Lock()
	v.open_ = append(v.open_, b)
	v.mu.Unlock()
	return b, b.Size(), nil
}

func (v *verifiedSource) close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, c := range v.open_ {
		c.Close()
	}
	v.open_ = nil
}

// integrityFailure quarantines every servable version that uses digest (a
// blob, or a manifest itself) and audits it.
func (s *Server) integrityFailure(ctx context.Context, digest, detail string) {
	s.log.Error("integrity failure", "digest", digest, "detail", detail)
	err := s.o.Meta.Update(context.WithoutCancel(ctx), func(tx store.Tx) error {
		ms, err := tx.ManifestsReferencing(ctx, "", digest)
		if err != nil {
			return err
		}
		self, err := tx.Manifests(ctx, store.ManifestFilter{Digest: digest})
		if err != nil {
			return err
		}
		ms = append(ms, self...)
		n := 0
		for _, m := range ms {
			if !m.State.Servable() {
				continue
			}
			err := tx.SetState(ctx, m.Repo, m.Digest, []store.State{store.Approved, store.Attached},
				store.StateChange{To: store.Pending, By: "integrity", Reason: integrityPrefix + detail})
			if err != nil && !errors.Is(err, store.ErrConflict) {
				return err
			}
			n++
			if err := s.appendAudit(ctx, tx, "integrity", "quarantine", m.Repo+"@"+m.Digest, map[string]any{"detail": detail, "digest": digest}); err != nil {
				return err
			}
		}
		if n == 0 {
			return s.appendAudit(ctx, tx, "integrity", "integrity-failure", digest, map[string]any{"detail": detail})
		}
		return nil
	})
	if err != nil {
		s.log.Error("quarantine", "digest", digest, "err", err)
	}
}

// janitor drops expired tokens and abandoned uploads.
func (s *Server) janitor(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		s.sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// uploadTTL is how long an idle upload session lives.
const uploadTTL = 24 * time.Hour

func (s *Server) sweep(ctx context.Context) {
	now := s.o.Now()
	var stale []store.Upload
	err := s.o.Meta.Update(ctx, func(tx store.Tx) error {
		if err := tx.DeleteExpiredTokens(ctx, now); err != nil {
			return err
		}
		var err error
		if stale, err = tx.Uploads(ctx, now.Add(-uploadTTL)); err != nil {
			return err
		}
		for _, u := range stale {
			if err := tx.DeleteUpload(ctx, u.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("janitor", "err", err)
		}
		return
	}
	for _, u := range stale {
		s.o.Blobs.AbortUpload(ctx, u.ID)
	}
	// Upload files with no session (a crash between them) go too.
	ids, err := s.o.Blobs.Uploads(ctx, now.Add(-uploadTTL))
	if err != nil {
		return
	}
	for _, id := range ids {
		var gone bool
		s.o.Meta.View(ctx, func(tx store.Tx) error {
			_, err := tx.Upload(ctx, id)
			gone = errors.Is(err, store.ErrNotFound)
			return nil
		})
		if gone {
			s.o.Blobs.AbortUpload(ctx, id)
		}
	}
}
