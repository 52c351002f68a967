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
	"io"
	"time"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/registry/store"
)

// The audit log is one append-only, hash-chained table: each row's hash is
// SHA-256 over the previous row's hash and the row's canonical JSON, and
// every CheckpointEvery rows (and on shutdown) the server signs (seq, hash)
// with its audit key. Rows are appended in the transaction of the change
// they record, so a change and its audit row commit together or not at all.

type canonRow struct {
	Seq     int64           `json:"seq"`
	Time    string          `json:"time"`
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	Subject string          `json:"subject"`
	Details json.RawMessage `json:"details,omitempty"`
}

// chainHash is a row's hash given the previous row's.
func chainHash(prev string, e *store.AuditEntry) string {
	b, _ := json.Marshal(canonRow{e.Seq, e.Time.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.Subject, e.Details})
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{'\n'})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// appendAudit adds one row inside tx.
func (s *Server) appendAudit(ctx context.Context, tx store.Tx, actor, action, subject string, details any) error {
	e := &store.AuditEntry{Time: s.o.Now().UTC(), Actor: actor, Action: action, Subject: subject}
	if details != nil {
		b, err := json.Marshal(details) // maps marshal with sorted keys: canonical
		if err != nil {
			return err
		}
		e.Details = b
	}
	prev := ""
	last, err := tx.LastAudit(ctx)
	switch {
	case err == nil:
		e.Seq, prev = last.Seq+1, last.Hash
	case errors.Is(err, store.ErrNotFound):
		e.Seq = 1
	default:
		return err
	}
	e.Hash = chainHash(prev, e)
	if err := tx.AppendAudit(ctx, e); err != nil {
		return err
	}
	if s.o.AuditKey != nil && e.Seq%s.o.CheckpointEvery == 0 {
		return s.putCheckpoint(ctx, tx, e)
	}
	return nil
}

// auditReq is an event that changes nothing else (a pull, a refusal),
// waiting for the group commit.
type auditReq struct {
	actor, action, subject string
	details                any
	done                   chan error
}

// auditQuick records an event that changes nothing else. Concurrent
// events are appended in one transaction (group commit), and the caller
// waits until its row is committed, so a pull that was answered is a pull
// that was recorded. A failure is logged, not returned: the answer stands
// either way.
func (s *Server) auditQuick(ctx context.Context, actor, action, subject string, details any) {
	r := auditReq{actor, action, subject, details, make(chan error, 1)}
	var err error
	s.auditMu.RLock()
	if s.auditClosed {
		s.auditMu.RUnlock()
		err = s.o.Meta.Update(context.WithoutCancel(ctx), func(tx store.Tx) error {
			return s.appendAudit(ctx, tx, actor, action, subject, details)
		})
	} else {
		s.auditQ <- r
		s.auditMu.RUnlock()
		err = <-r.done
	}
	if err != nil {
		s.log.Error("audit", "action", action, "err", err)
	}
}

// maxAuditBatch bounds one group commit.
const maxAuditBatch = 512

// auditLoop appends queued events, as many as are waiting, per
// transaction, until the queue is closed and drained.
func (s *Server) auditLoop() {
	defer s.auditWG.Done()
	for r := range s.auditQ {
		batch := []auditReq{r}
	more:
		for len(batch) < maxAuditBatch {
			select {
			case r, ok := <-s.auditQ:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		ctx := context.Background()
		err := s.o.Meta.Update(ctx, func(tx store.Tx) error {
			for _, r := range batch {
				if err := s.appendAudit(ctx, tx, r.actor, r.action, r.subject, r.details); err != nil {
					return err
				}
			}
			return nil
		})
		for _, r := range batch {
			r.done <- err
		}
	}
}

// closeAudit drains the queue; later events are appended one by one.
func (s *Server) closeAudit() {
	s.auditMu.Lock()
	if !s.auditClosed {
		s.auditClosed = true
		close(s.auditQ)
	}
	s.auditMu.Unlock()
	s.auditWG.Wait()
}

func checkpointMessage(seq int64, hash string) []byte {
	return []byte(fmt.Sprintf("aigis-audit-checkpoint/v1\n%d\n%s\n", seq, hash))
}

func (s *Server) putCheckpoint(ctx context.Context, tx store.Tx, e *store.AuditEntry) error {
	d := sha256.Sum256(checkpointMessage(e.Seq, e.Hash))
	sig, err := ecdsa.SignASN1(rand.Reader, s.o.AuditKey, d[:])
	if err != nil {
		return err
	}
	id, err := oms.KeyHint(&s.o.AuditKey.PublicKey)
	if err != nil {
		return err
	}
	return tx.PutCheckpoint(ctx, &store.Checkpoint{Seq: e.Seq, Hash: e.Hash, Time: s.o.Now().UTC(), KeyID: id, Signature: sig})
}

// Checkpoint signs the newest audit row now (on shutdown).
func (s *Server) Checkpoint(ctx context.Context) error {
	if s.o.AuditKey == nil {
		return nil
	}
	return s.o.Meta.Update(ctx, func(tx store.Tx) error {
		last, err := tx.LastAudit(ctx)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return s.putCheckpoint(ctx, tx, last)
	})
}

// AuditProblem is one way the log differs from an untouched one.
type AuditProblem struct {
	Seq     int64  `json:"seq"`
	Problem string `json:"problem"`
}

// AuditResult is what VerifyAudit found.
type AuditResult struct {
	Rows        int64          `json:"rows"`
	Checkpoints int            `json:"checkpoints"`
	LastHash    string         `json:"last_hash"`
	Problems    []AuditProblem `json:"problems,omitempty"`
}

// OK reports a log with no problem.
func (r *AuditResult) OK() bool { return len(r.Problems) == 0 }

// VerifyAudit recomputes the chain and checks every checkpoint against
// pub (nil: checkpoints are matched to rows but their signatures are not
// checked). It reports an edited row (its hash), a deleted or reordered
// row (the chain or the sequence breaks), and a cut tail (a checkpoint
// beyond the last row).
func VerifyAudit(ctx context.Context, meta store.MetaStore, pub *ecdsa.PublicKey) (*AuditResult, error) {
	res := &AuditResult{}
	hashes := map[int64]string{}
	err := meta.View(ctx, func(tx store.Tx) error {
		prev, want := "", int64(1)
		err := tx.Audit(ctx, 0, func(e *store.AuditEntry) error {
			res.Rows++
			if e.Seq != want {
				res.Problems = append(res.Problems, AuditProblem{e.Seq, fmt.Sprintf("sequence jumps from %d to %d: rows were deleted or reordered", want-1, e.Seq)})
			}
			if got := chainHash(prev, e); got != e.Hash {
				res.Problems = append(res.Problems, AuditProblem{e.Seq, "hash does not match the row and the chain before it: the row was edited, or one before it was deleted or reordered"})
			}
			hashes[e.Seq] = e.Hash
			prev, want = e.Hash, e.Seq+1
			res.LastHash = e.Hash
			return nil
		})
		if err != nil {
			return err
		}
		cps, err := tx.Checkpoints(ctx)
		if err != nil {
			return err
		}
		res.Checkpoints = len(cps)
		for _, c := range cps {
			h, ok := hashes[c.Seq]
			switch {
			case !ok:
				res.Problems = append(res.Problems, AuditProblem{c.Seq, "a signed checkpoint names a row that is missing: the log was cut"})
			case h != c.Hash:
				res.Problems = append(res.Problems, AuditProblem{c.Seq, "the row's hash differs from the signed checkpoint: the log was rewritten"})
			}
			if pub != nil {
				d := sha256.Sum256(checkpointMessage(c.Seq, c.Hash))
				if !ecdsa.VerifyASN1(pub, d[:], c.Signature) {
					res.Problems = append(res.Problems, AuditProblem{c.Seq, "the checkpoint's signature does not verify with the audit key"})
				}
			}
		}
		return nil
	})
	return res, err
}

// ExportAudit writes the log as JSON Lines, one row a line, from seq from.
func ExportAudit(ctx context.Context, meta store.MetaStore, from int64, w io.Writer) error {
	enc := json.NewEncoder(w)
	return meta.View(ctx, func(tx store.Tx) error {
		return tx.Audit(ctx, from, func(e *store.AuditEntry) error { return enc.Encode(e) })
	})
}
