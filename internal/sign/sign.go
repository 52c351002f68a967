// Package sign signs models in the OpenSSF Model Signing (OMS) v1.0
// format: it hashes a model with package oms, signs the in-toto statement
// in a DSSE envelope with an ECDSA key, and writes a Sigstore bundle that
// model_signing 1.x and aigis verify.
//
// It signs only what it can describe completely: a model with a symbolic
// link it was not allowed to follow, a special file, an unreadable
// directory or no file at all is refused, never signed in part. It writes
// nothing but the bundle, atomically, at the path its caller chose, and
// never over the model or an existing file that is not a bundle.
package sign

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/aigis-dev/aigis/internal/oms"
)

// Signer signs OMS statements with one ECDSA key, identified in the
// bundle either by a key hint or by an X.509 certificate chain.
type Signer struct {
	key   *ecdsa.PrivateKey
	chain []*x509.Certificate // leaf first; empty for the key method
}

// WithKey signs with a bare key: the bundle carries publicKey.hint, and
// verifiers need the matching public key.
func WithKey(key *ecdsa.PrivateKey) (*Signer, error) {
	if _, err := oms.SignatureHash(&key.PublicKey); err != nil {
		return nil, err
	}
	return &Signer{key: key}, nil
}

// WithCertificate signs with a key and its certificate: the bundle
// carries x509CertificateChain (the leaf, then chain, which should lead
// towards the verifier's trusted root). The leaf must hold the key's
// public half, be valid now and be usable for signing (key usage
// digitalSignature or extended key usage codeSigning), or no verifier
// could accept the bundle.
func WithCertificate(key *ecdsa.PrivateKey, leaf *x509.Certificate, chain []*x509.Certificate) (*Signer, error) {
	s, err := WithKey(key)
	if err != nil {
		return nil, err
	}
	if !key.PublicKey.Equal(leaf.PublicKey) {
		return nil, errors.New("the signing certificate does not hold the private key's public key")
	}
	now := time.Now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("the signing certificate is valid from %s to %s, not now", leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339))
	}
	if !oms.CertificateCanSign(leaf) {
		return nil, errors.New("the signing certificate allows neither digitalSignature key usage nor codeSigning extended key usage")
	}
	s.chain = append([]*x509.Certificate{leaf}, chain...)
	return s, nil
}

// Sign signs a manifest and returns the bundle.
func (s *Signer) Sign(m *oms.Manifest) (*oms.Bundle, error) {
	payload, err := m.Statement()
	if err != nil {
		return nil, err
	}
	h, err := oms.SignatureHash(&s.key.PublicKey)
	if err != nil {
		return nil, err
	}
	d := h.New()
	d.Write(oms.PAE(oms.PayloadType, payload))
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, d.Sum(nil))
	if err != nil {
		return nil, err
	}
	b := &oms.Bundle{
		MediaType: oms.BundleMediaType,
		Envelope: oms.Envelope{
			PayloadType: oms.PayloadType,
			Payload:     payload,
			Signatures:  []oms.Signature{{Sig: sig}},
		},
	}
	if len(s.chain) == 0 {
		hint, err := oms.KeyHint(&s.key.PublicKey)
		if err != nil {
			return nil, err
		}
		b.Material = oms.MaterialKey
		b.PublicKey = &oms.PublicKey{Hint: hint}
	} else {
		b.Material = oms.MaterialCertificateChain
		for _, c := range s.chain {
			b.Certificates = append(b.Certificates, c.Raw)
		}
	}
	return b, nil
}

// Options configure Model.
type Options struct {
	// Serialization says how to hash the model.
	Serialization oms.Options
	// Signature is where the bundle is written. When it lies inside the
	// model it is left out of the manifest (and recorded as ignored).
	Signature string
}

// Result is what Model signed.
type Result struct {
	Model     string
	Signature string
	Single    bool // the model is one file
	Manifest  *oms.Manifest
	Bundle    *oms.Bundle
	Data      []byte // the bundle as written to Signature
}

// Model hashes the model at root, signs its manifest and writes the
// bundle to opts.Signature.
func Model(ctx context.Context, root string, s *Signer, opts Options) (*Result, error) {
	if opts.Signature == "" {
		return nil, errors.New("no signature path")
	}
	if err := checkSignaturePath(root, opts.Signature); err != nil {
		return nil, err
	}
	m, err := Manifest(ctx, root, opts)
	if err != nil {
		return nil, err
	}
	if len(m.Resources) == 0 {
		return nil, oms.ErrEmptyModel
	}
	b, err := s.Sign(m)
	if err != nil {
		return nil, err
	}
	data, err := b.Marshal()
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(opts.Signature, data); err != nil {
		return nil, err
	}
	st, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	return &Result{Model: root, Signature: opts.Signature, Single: !st.IsDir(), Manifest: m, Bundle: b, Data: data}, nil
}

// Manifest hashes the model at root into the manifest Model signs: the
// bundle at opts.Signature, when it lies inside the model, is left out
// and recorded as ignored. `aigis digest` prints its root digest, so that
// digest and a signature of the same model always agree.
func Manifest(ctx context.Context, root string, opts Options) (*oms.Manifest, error) {
	ser := opts.Serialization
	if rel, ok := oms.Within(root, opts.Signature); ok && opts.Signature != "" {
		ser.IgnorePaths = append(append([]string(nil), ser.IgnorePaths...), rel)
	}
	return oms.Build(ctx, root, ser)
}

// checkSignaturePath refuses a bundle path that would replace the model
// or a file that is not a bundle: a model file named by mistake would be
// left out of the manifest and then overwritten. An existing bundle
// (re-signing) or an empty file (from mktemp) may be replaced.
func checkSignaturePath(root, sig string) error {
	if abs(root) == abs(sig) {
		return fmt.Errorf("the signature %s would overwrite the model", sig)
	}
	st, err := os.Stat(sig)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if rst, err := os.Stat(root); err == nil && os.SameFile(st, rst) {
		return fmt.Errorf("the signature %s would overwrite the model", sig)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("the signature %s exists and is not a regular file", sig)
	}
	if st.Size() == 0 {
		return nil
	}
	if st.Size() <= oms.MaxBundleSize {
		if data, err := os.ReadFile(sig); err == nil {
			if _, err := oms.ParseBundle(data); err == nil {
				return nil
			}
		}
	}
	return fmt.Errorf("refusing to overwrite %s: it is not a signature bundle (remove it, or choose another --signature)", sig)
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// writeAtomic writes through a temporary file in the same directory and
// renames it into place, so a crash never leaves half a bundle.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".aigis-sig-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
