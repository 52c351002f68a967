package oms

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// KeyHint is publicKey.hint as model_signing computes it: the hex SHA-256
// of the PEM encoding of the key's SubjectPublicKeyInfo.
func KeyHint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	return hex.EncodeToString(sum[:]), nil
}

// SignatureHash is the digest an ECDSA key signs with in OMS (and
// Sigstore): SHA-256 for P-256, SHA-384 for P-384, SHA-512 for P-521.
// Other keys are not supported.
func SignatureHash(pub crypto.PublicKey) (crypto.Hash, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return 0, fmt.Errorf("unsupported %s key: OMS keys are ECDSA P-256, P-384 or P-521", KeyKind(pub))
	}
	switch k.Curve {
	case elliptic.P256():
		return crypto.SHA256, nil
	case elliptic.P384():
		return crypto.SHA384, nil
	case elliptic.P521():
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("unsupported curve %s: OMS keys are ECDSA P-256, P-384 or P-521", k.Curve.Params().Name)
}

// ParsePublicKey reads the first PEM "PUBLIC KEY" block in data (text
// around it, such as certtool's description, is skipped) and checks that
// it is a supported ECDSA key.
func ParsePublicKey(data []byte) (*ecdsa.PublicKey, error) {
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("no PEM PUBLIC KEY block found")
		}
		if b.Type != "PUBLIC KEY" {
			continue
		}
		pub, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, err
		}
		if _, err := SignatureHash(pub); err != nil {
			return nil, err
		}
		return pub.(*ecdsa.PublicKey), nil
	}
}

// ParseCertificates reads every PEM CERTIFICATE block in data, in order.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block found")
	}
	return out, nil
}

// CertificateCanSign is model_signing's rule for a certificate that may
// sign models: key usage digitalSignature or extended key usage
// codeSigning.
func CertificateCanSign(c *x509.Certificate) bool {
	if c.KeyUsage&x509.KeyUsageDigitalSignature != 0 {
		return true
	}
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageCodeSigning {
			return true
		}
	}
	return false
}

// KeyKind names a key's algorithm for messages (never a Go type name).
func KeyKind(k any) string {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *ecdsa.PrivateKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey, *rsa.PrivateKey:
		return "RSA"
	case ed25519.PublicKey, ed25519.PrivateKey:
		return "Ed25519"
	case *ecdh.PublicKey, *ecdh.PrivateKey:
		return "ECDH"
	}
	return "unknown"
}
