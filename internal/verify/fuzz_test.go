package verify_test

import (
	"context"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/sign"
	"github.com/aigis-dev/aigis/internal/verify"
)

// FuzzVerifyBundle feeds arbitrary bundles to the whole verification path
// (bundle parser, every verifier, payload parser, manifest comparison)
// against a real model. Nothing may panic or fail internally, and nothing
// may verify against an empty Sigstore trusted root.
func FuzzVerifyBundle(f *testing.F) {
	k := newKey(f, elliptic.P256())
	p := newPKI(f)
	leaf := p.leaf(f, k, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), x509.KeyUsageDigitalSignature)
	model := writeModel(f, map[string]string{"a": "1", "b/c": "2"})
	keyed, err := sign.WithKey(k)
	if err != nil {
		f.Fatal(err)
	}
	certified, err := sign.WithCertificate(k, leaf, []*x509.Certificate{p.inter})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []*sign.Signer{keyed, certified} {
		for _, opts := range []oms.Options{{}, {Method: oms.MethodShards, ShardSize: 1}} {
			m, err := oms.Build(context.Background(), model, opts)
			if err != nil {
				f.Fatal(err)
			}
			b, err := s.Sign(m)
			if err != nil {
				f.Fatal(err)
			}
			data, _ := b.Marshal()
			f.Add(data)
		}
	}
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"certificate":{"rawBytes":"` +
		base64.StdEncoding.EncodeToString(leaf.Raw) + `"},"tlogEntries":[{"logIndex":"1","kindVersion":{"kind":"dsse","version":"0.0.1"}}]},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MAEC"}]}}`))
	f.Add([]byte(`{}`))
	emptyRoot, err := root.NewTrustedRootFromJSON([]byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`))
	if err != nil {
		f.Fatal(err)
	}
	kv, _ := verify.Key(&k.PublicKey)
	cv, _ := verify.CertificateChain([]*x509.Certificate{p.root})
	sv, _ := verify.Sigstore(emptyRoot, "a@example.com", "https://issuer.example.com")
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range []verify.Verifier{kv, cv, sv} {
			res, err := verify.Model(context.Background(), model, data, v, verify.Options{})
			if err != nil {
				t.Fatalf("internal error on a hostile bundle: %v", err)
			}
			if res.OK() && v == sv {
				t.Fatal("a Sigstore bundle verified against an empty trusted root")
			}
			if res.Failure == nil && res.Manifest == nil {
				t.Fatal("no failure and no manifest")
			}
		}
	})
}
