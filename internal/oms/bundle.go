package oms

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/aigis-dev/aigis/internal/jsonerr"
)

// BundleMediaType is the Sigstore bundle version OMS producers write.
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// bundleMediaTypes are the Sigstore bundle media types a verifier accepts.
var bundleMediaTypes = map[string]bool{
	BundleMediaType: true,
	"application/vnd.dev.sigstore.bundle+json;version=0.3": true,
	"application/vnd.dev.sigstore.bundle+json;version=0.2": true,
	"application/vnd.dev.sigstore.bundle+json;version=0.1": true,
}

// Material says how a bundle identifies its signer.
type Material string

const (
	// MaterialKey is a public key hint (or, before model_signing v1.1.0,
	// the raw PEM public key): the key method.
	MaterialKey Material = "key"
	// MaterialCertificateChain is an x509CertificateChain, leaf first: the
	// certificate method.
	MaterialCertificateChain Material = "certificate"
	// MaterialCertificate is a single Fulcio certificate with transparency
	// log entries: Sigstore keyless signing.
	MaterialCertificate Material = "sigstore"
)

// PublicKey is verificationMaterial.publicKey.
type PublicKey struct {
	// Hint is the hex SHA-256 of the PEM SubjectPublicKeyInfo (v1.1.0+).
	Hint string
	// RawBytes and KeyDetails are what v0.3.1–v1.0.x wrote instead: the
	// PEM public key itself and a Sigstore key-details name.
	RawBytes   []byte
	KeyDetails string
}

// Signature is one DSSE signature.
type Signature struct {
	Sig   []byte
	KeyID string
}

// Envelope is a DSSE envelope.
type Envelope struct {
	PayloadType string
	Payload     []byte
	Signatures  []Signature
}

// Bundle is an OMS bundle as far as OMS reads it. Sigstore-specific
// material (transparency log entries, timestamps) is counted here and
// verified from Raw by a Sigstore library.
type Bundle struct {
	MediaType    string
	Material     Material
	PublicKey    *PublicKey
	Certificates [][]byte // DER; the chain leaf first, or the one Fulcio certificate
	TlogEntries  int
	Timestamps   int
	Envelope     Envelope
	// Raw is the bundle as read.
	Raw []byte
}

type bundleJSON struct {
	MediaType            *string         `json:"mediaType"`
	VerificationMaterial *materialJSON   `json:"verificationMaterial"`
	DSSEEnvelope         *envelopeJSON   `json:"dsseEnvelope"`
	MessageSignature     json.RawMessage `json:"messageSignature"`
}

type materialJSON struct {
	PublicKey            *publicKeyJSON    `json:"publicKey"`
	X509CertificateChain *chainJSON        `json:"x509CertificateChain"`
	Certificate          *certJSON         `json:"certificate"`
	TlogEntries          []json.RawMessage `json:"tlogEntries"`
	Timestamps           *struct {
		RFC3161 []json.RawMessage `json:"rfc3161Timestamps"`
	} `json:"timestampVerificationData"`
}

type publicKeyJSON struct {
	Hint       *string `json:"hint"`
	RawBytes   *string `json:"rawBytes"`
	KeyDetails string  `json:"keyDetails"`
}

type chainJSON struct {
	Certificates []certJSON `json:"certificates"`
}

type certJSON struct {
	RawBytes *string `json:"rawBytes"`
}

type envelopeJSON struct {
	Payload     *string         `json:"payload"`
	PayloadType *string         `json:"payloadType"`
	Signatures  []signatureJSON `json:"signatures"`
}

type signatureJSON struct {
	Sig   *string `json:"sig"`
	KeyID *string `json:"keyid"`
}

// ParseBundle reads an OMS bundle: a Sigstore bundle whose content is a
// DSSE envelope carrying an in-toto payload. It checks structure only; no
// signature is verified and the payload is not interpreted.
func ParseBundle(data []byte) (*Bundle, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, formatErr("bundle is empty")
	}
	if len(data) > MaxBundleSize {
		return nil, formatErr("bundle is %d bytes, more than the %d-byte limit", len(data), MaxBundleSize)
	}
	var raw bundleJSON
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, formatErr("bundle is not a JSON Sigstore bundle: %v", jsonerr.Clean(err))
	}
	b := &Bundle{Raw: data}
	if raw.MediaType == nil {
		return nil, formatErr("bundle has no mediaType")
	}
	b.MediaType = *raw.MediaType
	if !bundleMediaTypes[b.MediaType] {
		return nil, formatErr("bundle mediaType %q is not a Sigstore bundle media type (want %s)", truncate(b.MediaType), BundleMediaType)
	}
	if err := b.parseMaterial(raw.VerificationMaterial); err != nil {
		return nil, err
	}
	if raw.DSSEEnvelope == nil {
		if raw.MessageSignature != nil {
			return nil, formatErr("bundle carries a messageSignature; OMS bundles carry a dsseEnvelope")
		}
		return nil, formatErr("bundle has no dsseEnvelope")
	}
	env, err := parseEnvelope(raw.DSSEEnvelope)
	if err != nil {
		return nil, err
	}
	b.Envelope = env
	return b, nil
}

func (b *Bundle) parseMaterial(vm *materialJSON) error {
	if vm == nil {
		return formatErr("bundle has no verificationMaterial")
	}
	n := 0
	if vm.PublicKey != nil {
		n++
		b.Material = MaterialKey
		pk := &PublicKey{KeyDetails: vm.PublicKey.KeyDetails}
		if vm.PublicKey.Hint != nil {
			pk.Hint = *vm.PublicKey.Hint
		}
		if vm.PublicKey.RawBytes != nil {
			raw, err := decodeBase64(*vm.PublicKey.RawBytes)
			if err != nil {
				return formatErr("verificationMaterial.publicKey.rawBytes is not base64: %v", err)
			}
			pk.RawBytes = raw
		}
		if pk.Hint == "" && len(pk.RawBytes) == 0 {
			return formatErr("verificationMaterial.publicKey has neither a hint nor rawBytes")
		}
		b.PublicKey = pk
	}
	if vm.X509CertificateChain != nil {
		n++
		b.Material = MaterialCertificateChain
		certs := vm.X509CertificateChain.Certificates
		if len(certs) == 0 {
			return formatErr("verificationMaterial.x509CertificateChain has no certificates")
		}
		if len(certs) > MaxCertificates {
			return formatErr("verificationMaterial.x509CertificateChain has %d certificates, more than the limit of %d", len(certs), MaxCertificates)
		}
		for i, c := range certs {
			der, err := decodeCert(c)
			if err != nil {
				return formatErr("x509CertificateChain certificate %d: %v", i, err)
			}
			b.Certificates = append(b.Certificates, der)
		}
	}
	if vm.Certificate != nil {
		n++
		b.Material = MaterialCertificate
		der, err := decodeCert(*vm.Certificate)
		if err != nil {
			return formatErr("verificationMaterial.certificate: %v", err)
		}
		b.Certificates = [][]byte{der}
	}
	switch n {
	case 0:
		return formatErr("verificationMaterial has no publicKey, x509CertificateChain or certificate")
	case 1:
	default:
		return formatErr("verificationMaterial has more than one of publicKey, x509CertificateChain and certificate")
	}
	b.TlogEntries = len(vm.TlogEntries)
	if vm.Timestamps != nil {
		b.Timestamps = len(vm.Timestamps.RFC3161)
	}
	if b.Material == MaterialCertificate && b.TlogEntries == 0 {
		return formatErr("a Sigstore keyless bundle must have at least one transparency log entry, and this one has none")
	}
	return nil
}

func decodeCert(c certJSON) ([]byte, error) {
	if c.RawBytes == nil || *c.RawBytes == "" {
		return nil, formatErr("certificate has no rawBytes")
	}
	der, err := decodeBase64(*c.RawBytes)
	if err != nil {
		return nil, formatErr("certificate rawBytes are not base64: %v", err)
	}
	return der, nil
}

func parseEnvelope(e *envelopeJSON) (Envelope, error) {
	var env Envelope
	if e.PayloadType == nil {
		return env, formatErr("dsseEnvelope has no payloadType")
	}
	env.PayloadType = *e.PayloadType
	if env.PayloadType != PayloadType {
		return env, formatErr("dsseEnvelope payloadType is %q, want %q", truncate(env.PayloadType), PayloadType)
	}
	if e.Payload == nil || *e.Payload == "" {
		return env, formatErr("dsseEnvelope has no payload")
	}
	p, err := decodeBase64(*e.Payload)
	if err != nil {
		return env, formatErr("dsseEnvelope payload is not base64: %v", err)
	}
	env.Payload = p
	if len(e.Signatures) == 0 {
		return env, formatErr("dsseEnvelope has no signatures")
	}
	if len(e.Signatures) > MaxSignatures {
		return env, formatErr("dsseEnvelope has %d signatures, more than the limit of %d", len(e.Signatures), MaxSignatures)
	}
	for i, s := range e.Signatures {
		if s.Sig == nil || *s.Sig == "" {
			return env, formatErr("dsseEnvelope signature %d is empty", i)
		}
		sig, err := decodeBase64(*s.Sig)
		if err != nil {
			return env, formatErr("dsseEnvelope signature %d is not base64: %v", i, err)
		}
		var keyID string
		if s.KeyID != nil {
			keyID = *s.KeyID
		}
		env.Signatures = append(env.Signatures, Signature{Sig: sig, KeyID: keyID})
	}
	return env, nil
}

// decodeBase64 accepts what protobuf's JSON mapping accepts for bytes:
// standard or URL-safe alphabet, with or without padding.
func decodeBase64(s string) ([]byte, error) {
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	return enc.Strict().DecodeString(s)
}

// Output structures: field order and the empty tlogEntries list are what
// model_signing writes.
type outBundle struct {
	MediaType            string      `json:"mediaType"`
	VerificationMaterial outMaterial `json:"verificationMaterial"`
	DSSEEnvelope         outEnvelope `json:"dsseEnvelope"`
}

type outMaterial struct {
	PublicKey            *outPublicKey `json:"publicKey,omitempty"`
	X509CertificateChain *outChain     `json:"x509CertificateChain,omitempty"`
	TlogEntries          []struct{}    `json:"tlogEntries"`
}

type outPublicKey struct {
	Hint string `json:"hint"`
}

type outChain struct {
	Certificates []outCert `json:"certificates"`
}

type outCert struct {
	RawBytes string `json:"rawBytes"`
}

type outEnvelope struct {
	Payload     string         `json:"payload"`
	PayloadType string         `json:"payloadType"`
	Signatures  []outSignature `json:"signatures"`
}

type outSignature struct {
	Sig   string `json:"sig"`
	KeyID string `json:"keyid"`
}

// Marshal writes a key or certificate-chain bundle as OMS v1.0 and
// model_signing 1.x write it.
func (b *Bundle) Marshal() ([]byte, error) {
	out := outBundle{
		MediaType: BundleMediaType,
		VerificationMaterial: outMaterial{
			TlogEntries: []struct{}{},
		},
		DSSEEnvelope: outEnvelope{
			Payload:     base64.StdEncoding.EncodeToString(b.Envelope.Payload),
			PayloadType: b.Envelope.PayloadType,
		},
	}
	switch b.Material {
	case MaterialKey:
		if b.PublicKey == nil || b.PublicKey.Hint == "" {
			return nil, formatErr("a key bundle needs a public key hint")
		}
		out.VerificationMaterial.PublicKey = &outPublicKey{Hint: b.PublicKey.Hint}
	case MaterialCertificateChain:
		if len(b.Certificates) == 0 {
			return nil, formatErr("a certificate bundle needs at least the signing certificate")
		}
		chain := &outChain{}
		for _, c := range b.Certificates {
			chain.Certificates = append(chain.Certificates, outCert{RawBytes: base64.StdEncoding.EncodeToString(c)})
		}
		out.VerificationMaterial.X509CertificateChain = chain
	default:
		return nil, formatErr("cannot write a %q bundle", b.Material)
	}
	if len(b.Envelope.Signatures) == 0 {
		return nil, formatErr("cannot write an unsigned envelope")
	}
	for _, s := range b.Envelope.Signatures {
		out.DSSEEnvelope.Signatures = append(out.DSSEEnvelope.Signatures, outSignature{Sig: base64.StdEncoding.EncodeToString(s.Sig), KeyID: s.KeyID})
	}
	return json.Marshal(out)
}
