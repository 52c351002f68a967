package oms

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
)

// The conformance suite's bundles name signing-key-pub.pem by this hint.
func TestKeyHint_MatchesModelSigning(t *testing.T) {
	p := testutil.Shared(t, "vectors", "oms", "conformance", "assets", "keys", "certificate", "signing-key-pub.pem")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(data) // certtool text precedes the PEM block
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := KeyHint(pub); h != "e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e" {
		t.Errorf("hint %s", h)
	}
}

func TestSignatureHashFollowsTheCurve(t *testing.T) {
	for curve, want := range map[elliptic.Curve]string{elliptic.P256(): "SHA-256", elliptic.P384(): "SHA-384", elliptic.P521(): "SHA-512"} {
		k, _ := ecdsa.GenerateKey(curve, rand.Reader)
		h, err := SignatureHash(&k.PublicKey)
		if err != nil || h.String() != want {
			t.Errorf("%s: %v %v", curve.Params().Name, h, err)
		}
	}
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := SignatureHash(edPub); err == nil {
		t.Error("ed25519 accepted")
	}
	der, _ := x509.MarshalPKIXPublicKey(edPub)
	if _, err := ParsePublicKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); err == nil {
		t.Error("ParsePublicKey accepted an ed25519 key")
	}
	if _, err := ParsePublicKey([]byte("not pem")); err == nil {
		t.Error("ParsePublicKey accepted garbage")
	}
	if _, err := ParseCertificates([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")); err == nil {
		t.Error("ParseCertificates accepted garbage")
	}
}
