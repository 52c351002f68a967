package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/sign"
	"github.com/aigis-dev/aigis/internal/verify"
)

func newKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writeModel creates a model directory (or, with the key "", a single
// file) in a fresh temporary directory.
func writeModel(t testing.TB, files map[string]string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "model")
	if content, ok := files[""]; ok {
		if err := os.WriteFile(root, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return root
	}
	os.MkdirAll(root, 0o755)
	for rel, content := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// signModel signs with the sign package and returns the bundle path.
func signModel(t testing.TB, root string, s *sign.Signer, opts oms.Options) string {
	t.Helper()
	sig := filepath.Join(t.TempDir(), "model.sig")
	if _, err := sign.Model(context.Background(), root, s, sign.Options{Serialization: opts, Signature: sig}); err != nil {
		t.Fatal(err)
	}
	return sig
}

func keySigner(t testing.TB, k *ecdsa.PrivateKey) *sign.Signer {
	s, err := sign.WithKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func keyVerifier(t testing.TB, k *ecdsa.PrivateKey) verify.Verifier {
	v, err := verify.Key(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func run(t testing.TB, root, sig string, v verify.Verifier, opts verify.Options) *verify.Result {
	t.Helper()
	data, err := os.ReadFile(sig)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Signature == "" {
		opts.Signature = sig
	}
	res, err := verify.Model(context.Background(), root, data, v, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// failures maps each failing file (or "bundle") to its rule.
func failures(r *verify.Result) map[string]string {
	out := map[string]string{}
	if r.Failure != nil {
		out["bundle"] = string(r.Failure.Rule)
	}
	for _, f := range r.Files {
		if f.Status != verify.StatusOK && f.Status != verify.StatusUnsigned {
			out[f.Name] = string(f.Rule)
		}
	}
	return out
}

// pki is a three-level certificate hierarchy, like model_signing's test
// keys: root CA, intermediate CA, signing certificate.
type pki struct {
	root, inter *x509.Certificate
	rootKey     *ecdsa.PrivateKey
	interKey    *ecdsa.PrivateKey
}

func newPKI(t testing.TB) *pki {
	p := &pki{rootKey: newKey(t, elliptic.P384()), interKey: newKey(t, elliptic.P384())}
	now := time.Now()
	p.root = issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "root-ca"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}, nil, &p.rootKey.PublicKey, p.rootKey)
	p.inter = issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "intermediate-ca"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}, p.root, &p.interKey.PublicKey, p.rootKey)
	return p
}

// leaf issues a signing certificate from the intermediate.
func (p *pki) leaf(t testing.TB, key *ecdsa.PrivateKey, notBefore, notAfter time.Time, ku x509.KeyUsage, eku ...x509.ExtKeyUsage) *x509.Certificate {
	return issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "model-signer"}, KeyUsage: ku, ExtKeyUsage: eku,
		NotBefore: notBefore, NotAfter: notAfter}, p.inter, &key.PublicKey, p.interKey)
}

var serial int64

func issue(t testing.TB, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) *x509.Certificate {
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// signManually builds a bundle without the sign package, so tests can
// produce what no careful signer would: expired certificates, legacy
// encodings, reordered resources.
func signManually(t testing.TB, payload []byte, key *ecdsa.PrivateKey, pae []byte, hashed func([]byte) []byte, material func(*oms.Bundle)) string {
	t.Helper()
	sig, err := ecdsa.SignASN1(rand.Reader, key, hashed(pae))
	if err != nil {
		t.Fatal(err)
	}
	b := &oms.Bundle{Envelope: oms.Envelope{PayloadType: oms.PayloadType, Payload: payload, Signatures: []oms.Signature{{Sig: sig}}}}
	material(b)
	data, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "model.sig")
	os.WriteFile(p, data, 0o644)
	return p
}

func curveHash(key *ecdsa.PrivateKey) func([]byte) []byte {
	return func(b []byte) []byte {
		h, _ := oms.SignatureHash(&key.PublicKey)
		d := h.New()
		d.Write(b)
		return d.Sum(nil)
	}
}

func withHint(key *ecdsa.PrivateKey) func(*oms.Bundle) {
	return func(b *oms.Bundle) {
		hint, _ := oms.KeyHint(&key.PublicKey)
		b.Material, b.PublicKey = oms.MaterialKey, &oms.PublicKey{Hint: hint}
	}
}

func withChain(certs ...*x509.Certificate) func(*oms.Bundle) {
	return func(b *oms.Bundle) {
		b.Material = oms.MaterialCertificateChain
		for _, c := range certs {
			b.Certificates = append(b.Certificates, c.Raw)
		}
	}
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
