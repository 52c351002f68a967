package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aigis-dev/aigis/internal/registry/queue"
	"github.com/aigis-dev/aigis/internal/registry/store"
)

// Manifest media types the registry accepts.
const (
	MediaTypeImageManifest  = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeImageIndex     = "application/vnd.oci.image.index.v1+json"
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeEmpty          = "application/vnd.oci.empty.v1+json"
)

func isIndex(mt string) bool { return mt == MediaTypeImageIndex || mt == MediaTypeDockerList }

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	URLs         []string          `json:"urls,omitempty"`
	Data         []byte            `json:"data,omitempty"`
}

// ManifestDoc is an image manifest or an index, as far as the registry
// reads it.
type ManifestDoc struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        *Descriptor       `json:"config,omitempty"`
	Layers        []Descriptor      `json:"layers,omitempty"`
	Manifests     []Descriptor      `json:"manifests,omitempty"`
	Subject       *Descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// Artifact type reads the artifact type as the referrers API reports it.
func (m *ManifestDoc) artifactType() string {
	if m.ArtifactType != "" {
		return m.ArtifactType
	}
	if m.Config != nil && !isIndex(m.MediaType) {
		return m.Config.MediaType
	}
	return ""
}

func invalid(format string, a ...any) *ociError {
	return oerr(http.StatusBadRequest, codeManifestInvalid, format, a...)
}

func checkDescriptor(where string, d *Descriptor) *ociError {
	if d.MediaType == "" {
		return invalid("%s: no mediaType", where)
	}
	if _, _, e := parseDigest(d.Digest); e != nil {
		return invalid("%s: %s", where, e.message)
	}
	if d.Size < 0 {
		return invalid("%s: negative size", where)
	}
	if d.Data != nil && int64(len(d.Data)) != d.Size {
		return invalid("%s: data is %d bytes, size says %d", where, len(d.Data), d.Size)
	}
	return nil
}

// ParseManifest reads and checks a manifest pushed as contentType.
func ParseManifest(body []byte, contentType string) (*ManifestDoc, error) {
	var m ManifestDoc
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		return nil, invalid("not a JSON manifest: %v", err)
	}
	if dec.More() {
		return nil, invalid("trailing data after the manifest")
	}
	ct, _, _ := strings.Cut(contentType, ";")
	ct = strings.TrimSpace(ct)
	switch {
	case m.MediaType == "" && ct == "":
		return nil, invalid("no media type: set Content-Type or mediaType")
	case m.MediaType == "":
		m.MediaType = ct
	case ct != "" && ct != m.MediaType:
		return nil, invalid("Content-Type %q differs from the manifest's mediaType %q", ct, m.MediaType)
	}
	if m.SchemaVersion != 2 {
		return nil, invalid("schemaVersion %d, want 2", m.SchemaVersion)
	}
	switch m.MediaType {
	case MediaTypeImageManifest, MediaTypeDockerManifest:
		if m.Config == nil {
			return nil, invalid("an image manifest needs a config")
		}
		if e := checkDescriptor("config", m.Config); e != nil {
			return nil, e
		}
		for i := range m.Layers {
			if e := checkDescriptor(fmt.Sprintf("layer %d", i), &m.Layers[i]); e != nil {
				return nil, e
			}
		}
		if len(m.Manifests) > 0 {
			return nil, invalid("an image manifest has no manifests list")
		}
	case MediaTypeImageIndex, MediaTypeDockerList:
		for i := range m.Manifests {
			if e := checkDescriptor(fmt.Sprintf("manifest %d", i), &m.Manifests[i]); e != nil {
				return nil, e
			}
		}
		if m.Config != nil || len(m.Layers) > 0 {
			return nil, invalid("an index has no config or layers")
		}
	default:
		return nil, oerr(http.StatusUnsupportedMediaType, codeManifestInvalid, "unsupported manifest media type %q", truncate(m.MediaType))
	}
	if m.Subject != nil {
		if e := checkDescriptor("subject", m.Subject); e != nil {
			return nil, e
		}
	}
	return &m, nil
}

func nondistributable(mt string) bool {
	return strings.Contains(mt, ".nondistributable.") || strings.Contains(mt, ".foreign.")
}

// metadataTypes are artifact types of referrers that describe their
// subject and are readable with it: signatures, attestations, BOMs,
// approvals.
var metadataTypes = map[string]bool{
	ApprovalArtifactType:                                   true,
	"application/vnd.dev.sigstore.bundle.v0.3+json":        true,
	"application/vnd.dev.sigstore.bundle+json;version=0.3": true,
	"application/vnd.dev.cosign.artifact.sig.v1+json":      true,
	"application/vnd.dev.cosign.simplesigning.v1+json":     true,
	"application/vnd.cncf.notary.signature":                true,
	"application/vnd.in-toto+json":                         true,
	"application/vnd.dsse.envelope.v1+json":                true,
	"application/vnd.cyclonedx+json":                       true,
	"application/vnd.cyclonedx+xml":                        true,
	"application/spdx+json":                                true,
	"application/vnd.aigis.gate.v1+json":                   true,
}

// maxMetadataLayer bounds each layer of a metadata referrer: a model in
// disguise is no signature.
const maxMetadataLayer = 4 << 20

func attachedMetadata(m *ManifestDoc) bool {
	if m.Subject == nil || !metadataTypes[m.artifactType()] || isIndex(m.MediaType) {
		return false
	}
	for _, l := range m.Layers {
		if l.Size > maxMetadataLayer || strings.Contains(l.MediaType, ".model.") || strings.Contains(l.MediaType, "kitops") {
			return false
		}
	}
	return true
}

// refsOf lists what a manifest references.
func refsOf(m *ManifestDoc) []store.Ref {
	var refs []store.Ref
	if m.Config != nil {
		refs = append(refs, store.Ref{Digest: m.Config.Digest, Kind: "config", Size: m.Config.Size})
	}
	for _, l := range m.Layers {
		if nondistributable(l.MediaType) {
			continue
		}
		refs = append(refs, store.Ref{Digest: l.Digest, Kind: "layer", Size: l.Size})
	}
	for _, c := range m.Manifests {
		refs = append(refs, store.Ref{Digest: c.Digest, Kind: "manifest", Size: c.Size})
	}
	if m.Subject != nil {
		refs = append(refs, store.Ref{Digest: m.Subject.Digest, Kind: "subject", Size: m.Subject.Size})
	}
	return refs
}

// resolve turns a tag or digest into a digest.
func resolveRef(ctx context.Context, tx store.Tx, repo, ref string) (string, error) {
	if strings.Contains(ref, ":") {
		if _, _, e := parseDigest(ref); e != nil {
			return "", e
		}
		return ref, nil
	}
	if !tagRE().MatchString(ref) {
		return "", invalid("invalid tag %q", truncate(ref))
	}
	d, err := tx.Tag(ctx, repo, ref)
	if errors.Is(err, store.ErrNotFound) {
		return "", oerr(http.StatusNotFound, codeManifestUnknown, "manifest unknown: no tag %s in %s", ref, repo)
	}
	return d, err
}

// denial says why a version may not be pulled, or "" when it may.
func denial(m *store.Manifest, now time.Time) string {
	switch m.State {
	case store.Approved:
		if !m.Expires.IsZero() && !now.Before(m.Expires) {
			return fmt.Sprintf("approval by %s expired at %s", m.StateBy, m.Expires.UTC().Format(time.RFC3339))
		}
		return ""
	case store.Attached:
		return ""
	case store.Pending:
		if strings.HasPrefix(m.Reason, integrityPrefix) {
			return "quarantined: " + m.Reason
		}
		if m.Gate == nil {
			return "pending approval (the gate has not finished)"
		}
		return "pending approval"
	case store.Rejected:
		return "rejected: " + m.Reason
	case store.Revoked:
		return fmt.Sprintf("revoked by %s at %s: %s", m.StateBy, m.StateAt.UTC().Format(time.RFC3339), m.Reason)
	}
	return "unknown state " + string(m.State)
}

func (s *Server) getManifest(w http.ResponseWriter, r *http.Request, p *principal, rt route) error {
	ctx := r.Context()
	if err := s.authorize(ctx, p, rt.repo, permPull); err != nil {
		return err
	}
	if strings.Contains(rt.ref, ":") {
		if _, _, e := parseDigest(rt.ref); e != nil {
			return e
		}
	} else if !tagRE().MatchString(rt.ref) {
		return invalid("invalid tag %q", truncate(rt.ref))
	}
	m, err := s.o.Meta.Pull(ctx, rt.repo, rt.ref)
	if errors.Is(err, store.ErrNotFound) {
		return oerr(http.StatusNotFound, codeManifestUnknown, "manifest unknown")
	}
	if err != nil {
		return err
	}
	subject := rt.repo + "@" + m.Digest
	// Whoever may push may learn, by HEAD, that a version exists and its
	// digest (oras attach resolves its subject so); its bytes stay closed.
	headByPusher := r.Method == http.MethodHead && p.can(rt.repo, permPush)
	if why := denial(m, s.o.Now()); why != "" && !headByPusher {
		s.auditQuick(ctx, p.name, "pull-denied", subject, map[string]any{"ref": rt.ref, "reason": why})
		return oerr(http.StatusForbidden, codeDenied, "%s: %s", subject, why)
	}
	alg, _, _ := strings.Cut(m.Digest, ":")
	h := newHash(alg)
	h.Write(m.Content)
	if digestOf(h, alg) != m.Digest {
		s.integrityFailure(ctx, m.Digest, fmt.Sprintf("manifest %s no longer hashes to its digest", m.Digest))
		return oerr(http.StatusForbidden, codeDenied, "%s changed at rest: it is quarantined", subject)
	}
	hd := w.Header()
	hd.Set("Content-Type", m.MediaType)
	hd.Set("Docker-Content-Digest", m.Digest)
	hd.Set("Content-Length", strconv.Itoa(len(m.Content)))
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	if m.State == store.Approved {
		s.auditQuick(ctx, p.name, "pull", subject, map[string]any{"ref": rt.ref})
	}
	w.WriteHeader(http.StatusOK)
	w.Write(m.Content)
	return nil
}

func (s *Server) putManifest(w http.ResponseWriter, r *http.Request, p *principal, rt route) error {
	ctx := r.Context()
	if err := s.authorize(ctx, p, rt.repo, permPush); err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, s.o.MaxManifest+1))
	if err != nil {
		return oerr(http.StatusBadRequest, codeManifestInvalid, "reading the manifest: %v", err)
	}
	if int64(len(body)) > s.o.MaxManifest {
		return oerr(http.StatusRequestEntityTooLarge, codeSizeInvalid, "manifest larger than %d bytes", s.o.MaxManifest)
	}
	var tags []string
	var digest string
	if strings.Contains(rt.ref, ":") {
		alg, _, e := parseDigest(rt.ref)
		if e != nil {
			return e
		}
		h := newHash(alg)
		h.Write(body)
		if digest = digestOf(h, alg); digest != rt.ref {
			return oerr(http.StatusBadRequest, codeDigestInvalid, "the manifest's digest is %s, not %s", digest, rt.ref)
		}
		for _, t := range r.URL.Query()["tag"] {
			if !tagRE().MatchString(t) {
				return invalid("invalid tag %q", truncate(t))
			}
			tags = append(tags, t)
		}
	} else {
		if !tagRE().MatchString(rt.ref) {
			return invalid("invalid tag %q", truncate(rt.ref))
		}
		tags = []string{rt.ref}
		h := newHash("sha256")
		h.Write(body)
		digest = digestOf(h, "sha256")
	}
	doc, err := ParseManifest(body, r.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	now := s.o.Now()
	m := &store.Manifest{
		Repo: rt.repo, Digest: digest, MediaType: doc.MediaType, ArtifactType: doc.artifactType(),
		Annotations: doc.Annotations, Content: body, Pusher: p.name, Created: now,
		State: store.Pending, StateAt: now, Refs: refsOf(doc),
	}
	if doc.Subject != nil {
		m.Subject = doc.Subject.Digest
	}
	mode := s.mode(rt.repo)
	switch {
	case attachedMetadata(doc):
		m.State, m.StateBy, m.Reason = store.Attached, p.name, "metadata of "+m.Subject
	case mode == GateNone:
		m.State, m.StateBy, m.Reason = store.Approved, "policy", "gate mode none: approved on push without gates"
	}
	var created, regate bool
	var state store.State
	err = s.o.Meta.Update(ctx, func(tx store.Tx) error {
		if err := checkRefs(ctx, tx, rt.repo, doc); err != nil {
			return err
		}
		var err error
		if created, err = tx.PutManifest(ctx, m); err != nil {
			return err
		}
		cur, err := tx.Manifest(ctx, rt.repo, digest)
		if err != nil {
			return err
		}
		state = cur.State
		details := map[string]any{"media_type": m.MediaType, "artifact_type": m.ArtifactType, "state": string(state), "new": created}
		for _, tag := range tags {
			prev, err := tx.PutTag(ctx, rt.repo, tag, digest, p.can(rt.repo, permOverwrite))
			if errors.Is(err, store.ErrConflict) {
				return oerr(http.StatusForbidden, codeDenied, "tag %s of %s points to %s: moving it needs the admin role", tag, rt.repo, prev)
			}
			if err != nil {
				return err
			}
			details["tag:"+tag] = prev
		}
		if created && m.State == store.Attached && m.ArtifactType != ApprovalArtifactType {
			var err error
			if regate, err = s.regateSubject(ctx, tx, p, rt.repo, m); err != nil {
				return err
			}
		}
		return s.appendAudit(ctx, tx, p.name, "push", rt.repo+"@"+digest, details)
	})
	if err != nil {
		var oe *ociError
		if errors.As(err, &oe) && oe.code == codeDenied {
			s.auditQuick(ctx, p.name, "push-denied", rt.repo+"@"+digest, map[string]any{"reason": oe.message})
		}
		return err
	}
	if created && state == store.Pending {
		if err := s.queue.Enqueue(ctx, queue.Job{Repo: rt.repo, Digest: digest}); err != nil {
			s.log.Error("enqueue gate job", "repo", rt.repo, "digest", digest, "err", err)
		}
	}
	if regate {
		if err := s.queue.Enqueue(ctx, queue.Job{Repo: rt.repo, Digest: m.Subject}); err != nil {
			s.log.Error("enqueue gate job", "repo", rt.repo, "digest", m.Subject, "err", err)
		}
	}
	hd := w.Header()
	hd.Set("Location", "/v2/"+rt.repo+"/manifests/"+digest)
	hd.Set("Docker-Content-Digest", digest)
	if doc.Subject != nil {
		hd.Set("OCI-Subject", doc.Subject.Digest)
	}
	for _, t := range tags {
		if t != rt.ref {
			hd.Add("OCI-Tag", t)
		}
	}
	hd.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// regateSubject sends a version back to its gates when a signature or
// other metadata is attached to it after the gates ran (oras push, then
// oras attach): pending with a gate result, or rejected by the gates. A
// version a person rejected, approved or revoked keeps its state.
func (s *Server) regateSubject(ctx context.Context, tx store.Tx, p *principal, repo string, ref *store.Manifest) (bool, error) {
	subj, err := tx.Manifest(ctx, repo, ref.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if subj.Gate == nil || strings.HasPrefix(subj.Reason, integrityPrefix) ||
		!(subj.State == store.Pending || subj.State == store.Rejected && subj.StateBy == "gate") {
		return false, nil
	}
	err = tx.SetState(ctx, repo, subj.Digest, []store.State{subj.State},
		store.StateChange{To: store.Pending, By: "gate", Reason: "pending: gated again, " + ref.ArtifactType + " attached", ClearGate: true})
	if err != nil {
		return false, err
	}
	return true, s.appendAudit(ctx, tx, p.name, "regate", repo+"@"+subj.Digest, map[string]any{"attached": ref.Digest, "artifact_type": ref.ArtifactType, "previous": string(subj.State)})
}

// checkRefs makes sure every blob a manifest names is in the repository,
// with the size the manifest says, and every child of an index is a
// manifest of the repository.
func checkRefs(ctx context.Context, tx store.Tx, repo string, doc *ManifestDoc) error {
	for _, ref := range refsOf(doc) {
		switch ref.Kind {
		case "subject":
			continue
		case "manifest":
			if _, err := tx.Manifest(ctx, repo, ref.Digest); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return oerr(http.StatusBadRequest, codeManifestBlobUnknown, "the index names manifest %s, which %s does not hold", ref.Digest, repo)
				}
				return err
			}
			continue
		}
		linked, err := tx.BlobLinked(ctx, repo, ref.Digest)
		if err != nil {
			return err
		}
		if !linked {
			return oerr(http.StatusBadRequest, codeManifestBlobUnknown, "blob %s is not in %s: push it first", ref.Digest, repo)
		}
		size, _, err := tx.Blob(ctx, ref.Digest)
		if err != nil {
			return err
		}
		if size != ref.Size {
			return invalid("blob %s is %d bytes, the manifest says %d", ref.Digest, size, ref.Size)
		}
	}
	return nil
}

func (s *Server) deleteManifest(w http.ResponseWriter, r *http.Request, p *principal, rt route) error {
	ctx := r.Context()
	if err := s.authorize(ctx, p, rt.repo, permDelete); err != nil {
		return err
	}
	err := s.o.Meta.Update(ctx, func(tx store.Tx) error {
		if !strings.Contains(rt.ref, ":") {
			if !tagRE().MatchString(rt.ref) {
				return invalid("invalid tag %q", truncate(rt.ref))
			}
			if err := tx.DeleteTag(ctx, rt.repo, rt.ref); err != nil {
				return err
			}
			return s.appendAudit(ctx, tx, p.name, "tag-delete", rt.repo+":"+rt.ref, nil)
		}
		if _, _, e := parseDigest(rt.ref); e != nil {
			return e
		}
		if err := tx.DeleteManifest(ctx, rt.repo, rt.ref); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, p.name, "delete", rt.repo+"@"+rt.ref, nil)
	})
	if errors.Is(err, store.ErrNotFound) {
		return oerr(http.StatusNotFound, codeManifestUnknown, "manifest unknown")
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (s *Server) listTags(w http.ResponseWriter, r *http.Request, p *principal, rt route) error {
	ctx := r.Context()
	if err := s.authorize(ctx, p, rt.repo, permPull); err != nil {
		return err
	}
	q := r.URL.Query()
	n := -1
	if v := q.Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 {
			return oerr(http.StatusBadRequest, codeUnsupported, "invalid n %q", truncate(v))
		}
	}
	last := q.Get("last")
	var tags []string
	var exists bool
	err := s.o.Meta.View(ctx, func(tx store.Tx) error {
		var err error
		limit := n
		if n > 0 {
			limit = n + 1
		}
		if n == 0 {
			tags = []string{}
		} else if tags, err = tx.Tags(ctx, rt.repo, last, limit); err != nil {
			return err
		}
		if len(tags) > 0 {
			exists = true
			return nil
		}
		ms, err := tx.Manifests(ctx, store.ManifestFilter{Repo: rt.repo, Limit: 1})
		exists = len(ms) > 0
		if !exists && last == "" && n != 0 {
			if ts, err := tx.Tags(ctx, rt.repo, "", 1); err == nil && len(ts) > 0 {
				exists = true
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	if !exists && n != 0 {
		return oerr(http.StatusNotFound, codeNameUnknown, "repository %s unknown", rt.repo)
	}
	if n > 0 && len(tags) > n {
		tags = tags[:n]
		v := url.Values{"n": {strconv.Itoa(n)}, "last": {tags[len(tags)-1]}}
		w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?%s>; rel="next"`, rt.repo, v.Encode()))
	}
	if tags == nil {
		tags = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(map[string]any{"name": rt.repo, "tags": tags})
}

func (s *Server) referrers(w http.ResponseWriter, r *http.Request, p *principal, rt route) error {
	ctx := r.Context()
	if err := s.authorize(ctx, p, rt.repo, permPull); err != nil {
		return err
	}
	if _, _, e := parseDigest(rt.ref); e != nil {
		return e
	}
	var ms []store.Manifest
	err := s.o.Meta.View(ctx, func(tx store.Tx) (err error) { ms, err = tx.Referrers(ctx, rt.repo, rt.ref); return })
	if err != nil {
		return err
	}
	filter := r.URL.Query().Get("artifactType")
	descs := []Descriptor{}
	for _, m := range ms {
		if filter != "" && m.ArtifactType != filter {
			continue
		}
		descs = append(descs, Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Content)), ArtifactType: m.ArtifactType, Annotations: m.Annotations})
	}
	if filter != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	w.Header().Set("Content-Type", MediaTypeImageIndex)
	return json.NewEncoder(w).Encode(ManifestDoc{SchemaVersion: 2, MediaType: MediaTypeImageIndex, Manifests: descs})
}
