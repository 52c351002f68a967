// Package gate decides whether a model pushed to the aigis registry may be
// served. It runs the same engine as the CLI over every layer of an OCI
// model artifact (scan verdicts, OMS signature, AI-BOM, dependencies,
// licences) and hands the results, as one documented JSON document, to a
// policy. It reads blobs only through the BlobSource it is given and never
// executes what it reads.
//
// The registry server calls Run from its gate workers; Run must be
// idempotent (a job may be delivered twice) and never fail open: a gate it
// cannot complete is a failed gate.
package gate

import (
	"context"
	"errors"
	"io"
)

// Version identifies the gates and policy that produced a Result; it is
// recorded with every version so results can be re-run when it changes.
const Version = "gate/0"

// BlobSource reads the blobs of the artifact being gated, verified against
// their digests by the caller.
type BlobSource interface {
	Open(ctx context.Context, digest string) (io.ReaderAt, int64, error)
}

// Artifact is one pushed manifest and what refers to it.
type Artifact struct {
	Repository string // namespace/name
	Digest     string // manifest digest
	MediaType  string
	Manifest   []byte // the manifest as pushed
	// Referrers are the manifests whose subject is this one (signatures,
	// BOMs, approvals), as pushed.
	Referrers [][]byte
	Blobs     BlobSource
}

// Config is what an operator configures for a namespace.
type Config struct {
	// Policy is the policy source; empty means the shipped default.
	Policy string
	// AutoApprove approves any version whose gates pass the policy,
	// without a person (testing, conformance runs).
	AutoApprove bool
}

// Result is what the gates found and what the policy decided. Its JSON is
// the policy's input plus the decision, documented in docs/registry.md.
type Result struct {
	Version string   `json:"version"`
	Allowed bool     `json:"allowed"`
	Reasons []string `json:"reasons,omitempty"`
}

// ErrNotImplemented is what Run returns until the gates exist: a gate
// that cannot run fails the version.
var ErrNotImplemented = errors.New("gates not implemented")

// Run gates one artifact.
func Run(ctx context.Context, a Artifact, cfg Config) (*Result, error) {
	return &Result{Version: Version, Allowed: false, Reasons: []string{ErrNotImplemented.Error()}}, nil
}
