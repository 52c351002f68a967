package verify

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/aigis-dev/aigis/internal/jsonerr"
	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/rules"
)

// LoadTrustedRoot reads Sigstore trust material: a trusted_root.json, or
// a client trust configuration (model_signing's --trust-config) that
// embeds one.
func LoadTrustedRoot(data []byte) (*root.TrustedRoot, error) {
	var probe struct {
		MediaType   string          `json:"mediaType"`
		TrustedRoot json.RawMessage `json:"trustedRoot"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("trusted root is not JSON: %w", jsonerr.Clean(err))
	}
	if strings.Contains(probe.MediaType, "clienttrustconfig") {
		if len(probe.TrustedRoot) == 0 {
			return nil, fmt.Errorf("client trust configuration has no trustedRoot")
		}
		data = probe.TrustedRoot
	}
	return root.NewTrustedRootFromJSON(data)
}

// sigstoreVerifier is Sigstore keyless signing, verified offline.
type sigstoreVerifier struct {
	trusted  root.TrustedMaterial
	identity string
	issuer   string
}

// Sigstore verifies keyless bundles offline against trusted: the Fulcio
// certificate chain, the signed certificate timestamp, the Rekor
// transparency log entry (inclusion proof or promise, checked against the
// log keys in the trusted root) and the signing time (from the log or an
// RFC 3161 timestamp) are all checked by sigstore-go. The certificate must
// then name exactly identity (its subject alternative name) and issuer
// (its OIDC issuer).
func Sigstore(trusted root.TrustedMaterial, identity, issuer string) (Verifier, error) {
	if identity == "" || issuer == "" {
		return nil, fmt.Errorf("Sigstore verification needs both an identity and an identity provider")
	}
	return &sigstoreVerifier{trusted: trusted, identity: identity, issuer: issuer}, nil
}

func (v *sigstoreVerifier) Method() oms.Material { return oms.MaterialCertificate }

func (v *sigstoreVerifier) Verify(b *oms.Bundle) ([]byte, *Signer, error) {
	if err := checkMethod(v, b); err != nil {
		return nil, nil, err
	}
	var sb bundle.Bundle
	if err := sb.UnmarshalJSON(b.Raw); err != nil {
		return nil, nil, failf(rules.BundleMalformed, "not a valid Sigstore bundle: %v", err)
	}
	env := sb.GetDsseEnvelope()
	if env == nil {
		return nil, nil, failf(rules.BundleMalformed, "the Sigstore bundle has no DSSE envelope")
	}
	sv, err := sgverify.NewVerifier(v.trusted,
		sgverify.WithSignedCertificateTimestamps(1),
		sgverify.WithTransparencyLog(1),
		sgverify.WithObserverTimestamps(1))
	if err != nil {
		return nil, nil, err
	}
	// The artifact is the model: this package checks it against the
	// payload's manifest after the signature. The identity is checked
	// below, by hand, so that a mismatch can say who did sign.
	res, err := sv.Verify(&sb, sgverify.NewPolicy(sgverify.WithoutArtifactUnsafe(), sgverify.WithoutIdentitiesUnsafe()))
	if err != nil {
		return nil, nil, failf(rules.SigstoreUntrusted, "Sigstore verification failed: %v", err)
	}
	if res.Signature == nil || res.Signature.Certificate == nil {
		return nil, nil, failf(rules.SigstoreUntrusted, "Sigstore verification returned no certificate identity")
	}
	cert := res.Signature.Certificate
	san, iss := cert.SubjectAlternativeName, cert.Extensions.Issuer
	if san != v.identity || iss != v.issuer {
		return nil, nil, failf(rules.IdentityMismatch, "signed by %q (issuer %q), but the expected signer is %q (issuer %q)", san, iss, v.identity, v.issuer)
	}
	return env.Payload, &Signer{Method: oms.MaterialCertificate, Identity: san, Issuer: iss}, nil
}
