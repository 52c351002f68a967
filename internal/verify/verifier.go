package verify

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/rules"
)

// Failure is a reason verification failed, with the rule that names it.
type Failure struct {
	Rule rules.ID
	Msg  string
}

func (f *Failure) Error() string { return f.Msg }

func failf(rule rules.ID, format string, a ...any) *Failure {
	return &Failure{Rule: rule, Msg: fmt.Sprintf(format, a...)}
}

// Signer describes who signed a verified bundle.
type Signer struct {
	Method oms.Material
	// Identity is the key hint, the leaf certificate's subject, or the
	// Sigstore certificate identity.
	Identity string
	// Issuer is the certificate issuer or the OIDC issuer ("" for keys).
	Issuer string
	// Notes are informational findings, such as an accepted legacy format.
	Notes []string
}

// Verifier checks a bundle's signature and returns the signed payload.
// Implementations fail closed: any doubt is a *Failure.
type Verifier interface {
	// Method is the signing method this verifier accepts.
	Method() oms.Material
	// Verify returns the verified DSSE payload and its signer.
	Verify(b *oms.Bundle) (payload []byte, signer *Signer, err error)
}

func checkMethod(v Verifier, b *oms.Bundle) error {
	if b.Material == v.Method() {
		return nil
	}
	hint := map[oms.Material]string{
		oms.MaterialKey:              "--public-key",
		oms.MaterialCertificateChain: "--certificate-chain",
		oms.MaterialCertificate:      "--identity, --identity-provider and --trusted-root",
	}
	return failf(rules.MethodMismatch, "the bundle was signed with the %s method but is being verified with the %s method; verify it with %s",
		b.Material, v.Method(), hint[b.Material])
}

// checkSignature verifies one of the envelope's signatures with pub, over
// the DSSE PAE and, failing that, over model_signing v0.2.0's legacy PAE
// (hashed with legacyHash). It reports whether the legacy form was used.
func checkSignature(pub *ecdsa.PublicKey, env *oms.Envelope, legacyHash func([]byte) []byte) (legacy bool, ok bool) {
	h, err := oms.SignatureHash(pub)
	if err != nil {
		return false, false
	}
	sum := func(b []byte) []byte { d := h.New(); d.Write(b); return d.Sum(nil) }
	pae := sum(oms.PAE(env.PayloadType, env.Payload))
	for _, s := range env.Signatures {
		if ecdsa.VerifyASN1(pub, pae, s.Sig) {
			return false, true
		}
	}
	old := legacyHash(oms.LegacyPAE(env.PayloadType, env.Payload))
	for _, s := range env.Signatures {
		if ecdsa.VerifyASN1(pub, old, s.Sig) {
			return true, true
		}
	}
	return false, false
}

const legacyPAENote = "signed over model_signing v0.2.0's legacy DSSE encoding (DSSEV1, Python bytes payload)"

// keyVerifier is the key method.
type keyVerifier struct {
	pub  *ecdsa.PublicKey
	hint string
}

// Key verifies bundles signed with the private half of pub.
func Key(pub *ecdsa.PublicKey) (Verifier, error) {
	hint, err := oms.KeyHint(pub)
	if err != nil {
		return nil, err
	}
	if _, err := oms.SignatureHash(pub); err != nil {
		return nil, err
	}
	return &keyVerifier{pub: pub, hint: hint}, nil
}

func (v *keyVerifier) Method() oms.Material { return oms.MaterialKey }

func (v *keyVerifier) Verify(b *oms.Bundle) ([]byte, *Signer, error) {
	if err := checkMethod(v, b); err != nil {
		return nil, nil, err
	}
	s := &Signer{Method: oms.MaterialKey, Identity: v.hint}
	switch pk := b.PublicKey; {
	case pk.Hint != "":
		if !strings.EqualFold(pk.Hint, v.hint) {
			return nil, nil, failf(rules.WrongKey, "the bundle was signed by the key with hint %s, not by the given key (hint %s)", pk.Hint, v.hint)
		}
	case len(pk.RawBytes) > 0:
		s.Notes = append(s.Notes, "key named by publicKey.rawBytes (model_signing before v1.1.0)")
		if k, err := oms.ParsePublicKey(pk.RawBytes); err == nil && !k.Equal(v.pub) {
			h, _ := oms.KeyHint(k)
			return nil, nil, failf(rules.WrongKey, "the bundle was signed by the key with hint %s, not by the given key (hint %s)", h, v.hint)
		}
	}
	curveHash := func(b []byte) []byte {
		h, _ := oms.SignatureHash(v.pub)
		d := h.New()
		d.Write(b)
		return d.Sum(nil)
	}
	legacy, ok := checkSignature(v.pub, &b.Envelope, curveHash)
	if !ok {
		return nil, nil, failf(rules.SignatureInvalid, "the signature does not verify with the given key (hint %s): the payload or the signature was altered, or another key signed it", v.hint)
	}
	if legacy {
		s.Notes = append(s.Notes, legacyPAENote)
	}
	return b.Envelope.Payload, s, nil
}

// chainVerifier is the certificate method.
type chainVerifier struct {
	roots *x509.CertPool
	now   func() time.Time
}

// CertificateChain verifies bundles whose x509CertificateChain leads to
// one of roots. Every certificate given is a trust anchor, as in
// model_signing. The chain is validated at the current time (a bundle
// without a timestamp proves no other), so an expired signing certificate
// fails.
func CertificateChain(roots []*x509.Certificate) (Verifier, error) {
	if len(roots) == 0 {
		return nil, errors.New("no trusted certificates given")
	}
	pool := x509.NewCertPool()
	for _, c := range roots {
		pool.AddCert(c)
	}
	return &chainVerifier{roots: pool, now: time.Now}, nil
}

func (v *chainVerifier) Method() oms.Material { return oms.MaterialCertificateChain }

func (v *chainVerifier) Verify(b *oms.Bundle) ([]byte, *Signer, error) {
	if err := checkMethod(v, b); err != nil {
		return nil, nil, err
	}
	certs := make([]*x509.Certificate, len(b.Certificates))
	for i, der := range b.Certificates {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, failf(rules.BundleMalformed, "x509CertificateChain certificate %d does not parse: %v", i, err)
		}
		certs[i] = c
	}
	leaf := certs[0]
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	fp := sha256.Sum256(leaf.Raw)
	s := &Signer{Method: oms.MaterialCertificateChain, Identity: leaf.Subject.String(), Issuer: leaf.Issuer.String()}
	desc := fmt.Sprintf("%q (issuer %q, SHA-256 fingerprint %s)", leaf.Subject.String(), leaf.Issuer.String(), hex.EncodeToString(fp[:]))
	// Any extended key usage is accepted on the path; the leaf's own
	// usage is checked below with model_signing's rule.
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: v.roots, Intermediates: inter, CurrentTime: v.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, nil, failf(rules.CertificateUntrusted, "signing certificate %s is not trusted: %v", desc, err)
	}
	if !oms.CertificateCanSign(leaf) {
		return nil, nil, failf(rules.CertificateUntrusted, "signing certificate %s allows neither digitalSignature nor codeSigning", desc)
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, nil, failf(rules.CertificateUntrusted, "signing certificate %s holds a %s key; OMS keys are ECDSA", desc, oms.KeyKind(leaf.PublicKey))
	}
	if _, err := oms.SignatureHash(pub); err != nil {
		return nil, nil, failf(rules.CertificateUntrusted, "signing certificate %s: %v", desc, err)
	}
	// model_signing v0.2.0 hashed its legacy encoding with SHA-256
	// whatever the curve.
	sha := func(b []byte) []byte { d := sha256.Sum256(b); return d[:] }
	legacy, ok := checkSignature(pub, &b.Envelope, sha)
	if !ok {
		return nil, nil, failf(rules.SignatureInvalid, "the signature does not verify with the key of signing certificate %s: the payload or the signature was altered", desc)
	}
	if legacy {
		s.Notes = append(s.Notes, legacyPAENote)
	}
	return b.Envelope.Payload, s, nil
}
