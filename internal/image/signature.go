package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/internal/verify"
	"github.com/aigis-dev/aigis/report"
)

// SignaturePolicy requires every model in the image to be covered by an
// OMS signature: a bundle (model.sig in the model's directory or one
// above it, or <file>.sig beside it) that verifies with Verifier and
// whose manifest lists the file with the SHA-256 of the bytes in the
// image. Only the files method with SHA-256 (what aigis sign and
// model_signing write by default) can be checked from an image.
type SignaturePolicy struct {
	Verifier verify.Verifier
}

// isBundleName reports whether the inventory must keep a file for the
// policy.
func isBundleName(p string) bool {
	return path.Base(p) == "model.sig" || strings.HasSuffix(p, ".sig")
}

func (sp *SignaturePolicy) check(t *tree, models []*report.Artifact) {
	cache := map[string]*oms.Manifest{}
	failed := map[string]string{}
	for _, a := range models {
		if a.Properties["state"] != "present" {
			continue
		}
		p := strings.TrimPrefix(a.Path, "/")
		bundlePath, rel := findBundle(t, p)
		if bundlePath == "" {
			a.Add(rules.New(rules.ImageModelUnsigned, "", fmt.Sprintf("%s is not covered by an OMS signature (no model.sig in its directory or above, no %s.sig)", a.Path, path.Base(p))))
			continue
		}
		m, ok := cache[bundlePath]
		if !ok && failed[bundlePath] == "" {
			var err error
			m, err = sp.manifest(t, bundlePath)
			if err != nil {
				failed[bundlePath] = err.Error()
			}
			cache[bundlePath] = m
		}
		if why := failed[bundlePath]; why != "" {
			a.Add(rules.New(rules.ImageModelSignatureInvalid, "/"+bundlePath, fmt.Sprintf("the signature /%s covering %s does not verify: %s", bundlePath, a.Path, why)))
			continue
		}
		if m.Serialization.Method != oms.MethodFiles || !strings.HasPrefix(string(m.Serialization.HashType), "sha256") {
			a.Add(rules.New(rules.ImageModelSignatureInvalid, "/"+bundlePath, fmt.Sprintf("the signature /%s uses the %s method with %s; only files with sha256 can be checked inside an image", bundlePath, m.Serialization.Method, m.Serialization.HashType)))
			continue
		}
		want := ""
		for _, r := range m.Resources {
			if r.Name == rel {
				want = hex.EncodeToString(r.Digest)
			}
		}
		got := a.Properties["sha256"]
		switch {
		case want == "":
			a.Add(rules.New(rules.ImageModelUnsigned, "/"+bundlePath, fmt.Sprintf("the signature /%s does not list %s", bundlePath, rel)))
		case got == "":
			a.Add(rules.New(rules.ImageModelSignatureInvalid, "/"+bundlePath, fmt.Sprintf("%s was not hashed; the signature cannot be checked", a.Path)))
		case got != want:
			a.Add(rules.New(rules.ImageModelSignatureInvalid, "/"+bundlePath, fmt.Sprintf("%s hashes to sha256:%s, the signature /%s records sha256:%s", a.Path, got, bundlePath, want)))
		default:
			a.Properties["signature"] = "/" + bundlePath
		}
	}
}

// findBundle returns the bundle covering p and p's name relative to the
// bundle's directory.
func findBundle(t *tree, p string) (bundle, rel string) {
	if n, err := t.lookup(p + ".sig"); err == nil && n.kind == kindFile {
		return p + ".sig", path.Base(p)
	}
	for dir := parentDir(p); ; dir = parentDir(dir) {
		b := path.Join(dir, "model.sig")
		if n, err := t.lookup(b); err == nil && n.kind == kindFile {
			return b, strings.TrimPrefix(strings.TrimPrefix(p, dir), "/")
		}
		if dir == "" {
			return "", ""
		}
	}
}

func (sp *SignaturePolicy) manifest(t *tree, bundlePath string) (*oms.Manifest, error) {
	n, err := t.lookup(bundlePath)
	if err != nil || !n.kept {
		return nil, fmt.Errorf("the bundle was not kept in memory")
	}
	b, err := oms.ParseBundle(n.data)
	if err != nil {
		return nil, err
	}
	payload, _, err := sp.Verifier.Verify(b)
	if err != nil {
		return nil, err
	}
	return oms.ParseStatement(payload)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
