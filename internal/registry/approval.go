package registry

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/registry/store"
)

// An approval is an in-toto statement over the manifest digest, in a DSSE
// envelope signed by the approver's own key, stored as a referrer of the
// version so that anyone can verify it offline.
const (
	ApprovalPredicateType = "https://aigis.dev/registry/approval/v1"
	ApprovalArtifactType  = "application/vnd.aigis.approval.v1+dsse+json"
	DSSEMediaType         = "application/vnd.dsse.envelope.v1+json"
	// MaxApprovalTTL bounds how long an approval may last.
	MaxApprovalTTL = 366 * 24 * time.Hour
)

// ApprovalSubject is the statement's subject: the repository and the
// manifest digest.
type ApprovalSubject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// ApprovalGate names the gate result the approver saw.
type ApprovalGate struct {
	Version string `json:"version"`
	Result  string `json:"result"` // GateResultDigest of the stored result
}

// ApprovalPredicate is what the approver signs.
type ApprovalPredicate struct {
	Approver   string       `json:"approver"`
	Decision   string       `json:"decision"` // "approved"
	Repository string       `json:"repository"`
	Gate       ApprovalGate `json:"gate"`
	Issued     time.Time    `json:"issued"`
	Expires    time.Time    `json:"expires"`
	Comment    string       `json:"comment,omitempty"`
}

// ApprovalStatement is the in-toto statement.
type ApprovalStatement struct {
	Type          string            `json:"_type"`
	Subject       []ApprovalSubject `json:"subject"`
	PredicateType string            `json:"predicateType"`
	Predicate     ApprovalPredicate `json:"predicate"`
}

// NewApproval builds the statement approving repo@digest.
func NewApproval(repo, digest, approver string, gate ApprovalGate, ttl time.Duration, comment string) (*ApprovalStatement, error) {
	alg, hex, ok := strings.Cut(digest, ":")
	if !ok {
		return nil, fmt.Errorf("invalid digest %q", digest)
	}
	now := time.Now().UTC().Truncate(time.Second)
	return &ApprovalStatement{
		Type:          oms.StatementType,
		Subject:       []ApprovalSubject{{Name: repo, Digest: map[string]string{alg: hex}}},
		PredicateType: ApprovalPredicateType,
		Predicate: ApprovalPredicate{Approver: approver, Decision: "approved", Repository: repo, Gate: gate,
			Issued: now, Expires: now.Add(ttl), Comment: comment},
	}, nil
}

type dsseSignature struct {
	KeyID string `json:"keyid"`
	Sig   []byte `json:"sig"`
}

type dsseEnvelope struct {
	PayloadType string          `json:"payloadType"`
	Payload     []byte          `json:"payload"`
	Signatures  []dsseSignature `json:"signatures"`
}

// SignApproval signs st with key (ECDSA P-256/384/521, the hash the curve
// calls for, over DSSE's PAE) and returns the DSSE envelope.
func SignApproval(key *ecdsa.PrivateKey, st *ApprovalStatement) ([]byte, error) {
	payload, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	h, err := oms.SignatureHash(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	d := h.New()
	d.Write(oms.PAE(oms.PayloadType, payload))
	sig, err := ecdsa.SignASN1(rand.Reader, key, d.Sum(nil))
	if err != nil {
		return nil, err
	}
	id, err := oms.KeyHint(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	return json.Marshal(dsseEnvelope{PayloadType: oms.PayloadType, Payload: payload, Signatures: []dsseSignature{{KeyID: id, Sig: sig}}})
}

// VerifyApproval checks an approval envelope's signature with pub and
// returns its statement; it checks the statement's form, not what it
// approves (the caller compares subject, approver and expiry).
func VerifyApproval(envelope []byte, pub *ecdsa.PublicKey) (*ApprovalStatement, error) {
	var env dsseEnvelope
	if err := json.Unmarshal(envelope, &env); err != nil {
		return nil, fmt.Errorf("not a DSSE envelope: %v", err)
	}
	if env.PayloadType != oms.PayloadType {
		return nil, fmt.Errorf("payload type %q, want %s", env.PayloadType, oms.PayloadType)
	}
	h, err := oms.SignatureHash(pub)
	if err != nil {
		return nil, err
	}
	d := h.New()
	d.Write(oms.PAE(env.PayloadType, env.Payload))
	sum := d.Sum(nil)
	ok := false
	for _, s := range env.Signatures {
		if ecdsa.VerifyASN1(pub, sum, s.Sig) {
			ok = true
			break
		}
	}
	if !ok {
		return nil, errors.New("no signature of the approval verifies with the approver's key")
	}
	var st ApprovalStatement
	if err := json.Unmarshal(env.Payload, &st); err != nil {
		return nil, fmt.Errorf("the approval's statement: %v", err)
	}
	if st.Type != oms.StatementType || st.PredicateType != ApprovalPredicateType || len(st.Subject) != 1 {
		return nil, errors.New("not an aigis approval statement (type, predicate type or subject)")
	}
	return &st, nil
}

// Digest is the subject digest as "alg:hex".
func (st *ApprovalStatement) Digest() string {
	for alg, hex := range st.Subject[0].Digest {
		return alg + ":" + hex
	}
	return ""
}

// ParseRef splits "repo:tag" or "repo@digest".
func ParseRef(ref string) (repo, tagOrDigest string, err error) {
	if i := strings.Index(ref, "@"); i >= 0 {
		repo, tagOrDigest = ref[:i], ref[i+1:]
	} else if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		repo, tagOrDigest = ref[:i], ref[i+1:]
	} else {
		repo, tagOrDigest = ref, "latest"
	}
	if !validName(repo) {
		return "", "", fmt.Errorf("invalid repository name %q", repo)
	}
	return repo, tagOrDigest, nil
}

// approve checks an approval and records it: the version moves from
// pending to approved and the envelope is stored as a referrer, in one
// transaction with its audit row.
func (s *Server) approve(ctx context.Context, p *principal, ref string, envelope []byte) (*store.Manifest, error) {
	repo, r, err := ParseRef(ref)
	if err != nil {
		return nil, oerr(http.StatusBadRequest, codeNameInvalid, "%v", err)
	}
	if err := s.authorize(ctx, p, repo, permApprove); err != nil {
		return nil, err
	}
	var m *store.Manifest
	var user *store.User
	err = s.o.Meta.View(ctx, func(tx store.Tx) error {
		d, err := resolveRef(ctx, tx, repo, r)
		if err != nil {
			return err
		}
		if m, err = tx.Manifest(ctx, repo, d); err != nil {
			return err
		}
		user, err = tx.User(ctx, p.name)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, oerr(http.StatusNotFound, codeManifestUnknown, "no version %s", ref)
	}
	if err != nil {
		return nil, err
	}
	refuse := func(format string, a ...any) (*store.Manifest, error) {
		msg := fmt.Sprintf(format, a...)
		s.auditQuick(ctx, p.name, "approve-denied", repo+"@"+m.Digest, map[string]any{"reason": msg})
		return nil, oerr(http.StatusForbidden, codeDenied, "%s", msg)
	}
	if m.Pusher == p.name {
		return refuse("four eyes: %s pushed %s and may not approve it", p.name, m.Digest)
	}
	if m.State != store.Pending || strings.HasPrefix(m.Reason, integrityPrefix) {
		return refuse("%s is %s (%s), not pending approval", m.Digest, m.State, m.Reason)
	}
	if m.Gate == nil {
		return refuse("the gate has not finished with %s", m.Digest)
	}
	if len(user.Key) == 0 {
		return refuse("%s has no registered approval key (aigis registry user key)", p.name)
	}
	pub, err := oms.ParsePublicKey(user.Key)
	if err != nil {
		return refuse("the registered key of %s: %v", p.name, err)
	}
	st, err := VerifyApproval(envelope, pub)
	if err != nil {
		return refuse("%v", err)
	}
	now := s.o.Now()
	pr := st.Predicate
	switch {
	case st.Digest() != m.Digest || st.Subject[0].Name != repo || pr.Repository != repo:
		return refuse("the approval names %s@%s, not %s@%s", st.Subject[0].Name, st.Digest(), repo, m.Digest)
	case pr.Approver != p.name:
		return refuse("the approval is signed as %q, the caller is %q", pr.Approver, p.name)
	case pr.Decision != "approved":
		return refuse("the approval's decision is %q", pr.Decision)
	case !now.Before(pr.Expires) || pr.Expires.Sub(now) > MaxApprovalTTL:
		return refuse("the approval expires at %s: it must lie in the future, within %s", pr.Expires.Format(time.RFC3339), MaxApprovalTTL)
	case pr.Gate.Result != GateResultDigest(m.Gate):
		return refuse("the approval saw gate result %s, the registry holds %s", pr.Gate.Result, GateResultDigest(m.Gate))
	}
	var gr struct {
		Allowed bool `json:"allowed"`
	}
	if json.Unmarshal(m.Gate, &gr) != nil || !gr.Allowed {
		return refuse("the gate did not pass %s", m.Digest)
	}
	referrer, err := s.storeReferrer(ctx, repo, m, ApprovalArtifactType, DSSEMediaType, envelope, map[string]string{
		"org.opencontainers.image.created": now.UTC().Format(time.RFC3339),
		"dev.aigis.approval.approver":      p.name,
		"dev.aigis.approval.expires":       pr.Expires.UTC().Format(time.RFC3339),
	}, p.name)
	if err != nil {
		return nil, err
	}
	err = s.o.Meta.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.PutManifest(ctx, referrer); err != nil {
			return err
		}
		c := store.StateChange{To: store.Approved, By: p.name, Reason: "approved by " + p.name, Expires: pr.Expires}
		if err := tx.SetState(ctx, repo, m.Digest, []store.State{store.Pending}, c); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return oerr(http.StatusConflict, codeDenied, "%s changed state meanwhile", m.Digest)
			}
			return err
		}
		if err := s.cascade(ctx, tx, m, []store.State{store.Pending}, c); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, p.name, "approve", repo+"@"+m.Digest, map[string]any{
			"expires": pr.Expires.UTC().Format(time.RFC3339), "gate": pr.Gate.Result, "approval": referrer.Digest, "pusher": m.Pusher})
	})
	if err != nil {
		return nil, err
	}
	return referrer, nil
}

// cascade applies a state change to the children of an index.
func (s *Server) cascade(ctx context.Context, tx store.Tx, m *store.Manifest, from []store.State, c store.StateChange) error {
	for _, r := range m.Refs {
		if r.Kind != "manifest" {
			continue
		}
		err := tx.SetState(ctx, m.Repo, r.Digest, from, c)
		if err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// storeReferrer writes content as a one-layer artifact whose subject is m
// and returns its manifest (state attached), not yet in the MetaStore;
// its blobs are committed and linked.
func (s *Server) storeReferrer(ctx context.Context, repo string, m *store.Manifest, artifactType, layerType string, content []byte, ann map[string]string, by string) (*store.Manifest, error) {
	empty := []byte("{}")
	blobs := [][]byte{empty, content}
	var digests []string
	for _, b := range blobs {
		sum := sha256.Sum256(b)
		d := "sha256:" + hex.EncodeToString(sum[:])
		digests = append(digests, d)
		id := newUploadID()
		if _, err := s.o.Blobs.Append(ctx, id, 0, strings.NewReader(string(b)), -1); err != nil {
			return nil, err
		}
		if err := s.o.Blobs.Commit(ctx, id, int64(len(b)), d); err != nil {
			return nil, err
		}
	}
	err := s.o.Meta.Update(ctx, func(tx store.Tx) error {
		for i, b := range blobs {
			if err := tx.PutBlob(ctx, digests[i], int64(len(b)), checkSum(b)); err != nil {
				return err
			}
			if err := tx.LinkBlob(ctx, repo, digests[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	doc := ManifestDoc{
		SchemaVersion: 2, MediaType: MediaTypeImageManifest, ArtifactType: artifactType,
		Config:      &Descriptor{MediaType: MediaTypeEmpty, Digest: digests[0], Size: 2, Data: empty},
		Layers:      []Descriptor{{MediaType: layerType, Digest: digests[1], Size: int64(len(content))}},
		Subject:     &Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Content))},
		Annotations: ann,
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	now := s.o.Now()
	return &store.Manifest{
		Repo: repo, Digest: "sha256:" + hex.EncodeToString(sum[:]), MediaType: doc.MediaType, ArtifactType: artifactType,
		Subject: m.Digest, Annotations: ann, Content: body, Pusher: by, Created: now,
		State: store.Attached, StateBy: by, StateAt: now, Reason: "metadata of " + m.Digest, Refs: refsOf(&doc),
	}, nil
}

// decide rejects a pending version or revokes an approved one.
func (s *Server) decide(ctx context.Context, p *principal, ref, action, reason string) (*store.Manifest, error) {
	repo, r, err := ParseRef(ref)
	if err != nil {
		return nil, oerr(http.StatusBadRequest, codeNameInvalid, "%v", err)
	}
	if err := s.authorize(ctx, p, repo, permApprove); err != nil {
		return nil, err
	}
	if strings.TrimSpace(reason) == "" {
		return nil, oerr(http.StatusBadRequest, codeUnsupported, "a %s needs a reason", action)
	}
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	var from []store.State
	c := store.StateChange{By: p.name, Reason: reason}
	switch action {
	case "reject":
		from, c.To = []store.State{store.Pending}, store.Rejected
		c.Reason = fmt.Sprintf("rejected by %s: %s", p.name, reason)
	case "revoke":
		from, c.To = []store.State{store.Approved}, store.Revoked
	default:
		return nil, fmt.Errorf("unknown decision %q", action)
	}
	var m *store.Manifest
	err = s.o.Meta.Update(ctx, func(tx store.Tx) error {
		d, err := resolveRef(ctx, tx, repo, r)
		if err != nil {
			return err
		}
		if m, err = tx.Manifest(ctx, repo, d); err != nil {
			return err
		}
		if err := tx.SetState(ctx, repo, d, from, c); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return oerr(http.StatusConflict, codeDenied, "%s is %s: only a %s version can be %sed", d, m.State, from[0], strings.TrimSuffix(action, "e"))
			}
			return err
		}
		if err := s.cascade(ctx, tx, m, from, c); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, p.name, action, repo+"@"+d, map[string]any{"reason": reason, "previous": string(m.State)})
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, oerr(http.StatusNotFound, codeManifestUnknown, "no version %s", ref)
	}
	return m, err
}
