package sign

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aigis-dev/aigis/internal/oms"
)

func newKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func selfSigned(t testing.TB, k *ecdsa.PrivateKey, notBefore, notAfter time.Time, usage x509.KeyUsage) *x509.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "signer"},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: usage,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func model(t testing.TB, files map[string]string) string {
	root := filepath.Join(t.TempDir(), "model")
	for rel, content := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(root, 0o755)
	return root
}

// The bundle's signature is an ECDSA signature, with the curve's hash,
// over the DSSE PAE of the payload, and the key is named by its hint.
func TestSign_KeyBundleForEveryCurve(t *testing.T) {
	root := model(t, map[string]string{"a": "1"})
	m, err := oms.Build(context.Background(), root, oms.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		k := newKey(t, curve)
		s, err := WithKey(k)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Sign(m)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := oms.SignatureHash(&k.PublicKey)
		d := h.New()
		d.Write(oms.PAE(oms.PayloadType, b.Envelope.Payload))
		if !ecdsa.VerifyASN1(&k.PublicKey, d.Sum(nil), b.Envelope.Signatures[0].Sig) {
			t.Errorf("%s: signature does not verify over the PAE with %v", curve.Params().Name, h)
		}
		hint, _ := oms.KeyHint(&k.PublicKey)
		if b.Material != oms.MaterialKey || b.PublicKey.Hint != hint {
			t.Errorf("%s: material %v %+v", curve.Params().Name, b.Material, b.PublicKey)
		}
	}
	if _, err := WithKey(newKey(t, elliptic.P224())); err == nil {
		t.Error("P-224 accepted")
	}
}

func TestWithCertificate_RefusesWhatNoVerifierAccepts(t *testing.T) {
	k := newKey(t, elliptic.P256())
	now := time.Now()
	good := selfSigned(t, k, now.Add(-time.Hour), now.Add(time.Hour), x509.KeyUsageDigitalSignature)
	if _, err := WithCertificate(k, good, nil); err != nil {
		t.Fatalf("valid certificate refused: %v", err)
	}
	for name, tc := range map[string]struct {
		key  *ecdsa.PrivateKey
		cert *x509.Certificate
		want string
	}{
		"another key's certificate": {newKey(t, elliptic.P256()), good, "does not hold"},
		"expired":                   {k, selfSigned(t, k, now.Add(-2*time.Hour), now.Add(-time.Hour), x509.KeyUsageDigitalSignature), "not now"},
		"not yet valid":             {k, selfSigned(t, k, now.Add(time.Hour), now.Add(2*time.Hour), x509.KeyUsageDigitalSignature), "not now"},
		"no signing usage":          {k, selfSigned(t, k, now.Add(-time.Hour), now.Add(time.Hour), x509.KeyUsageKeyEncipherment), "digitalSignature"},
	} {
		if _, err := WithCertificate(tc.key, tc.cert, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error mentioning %q", name, err, tc.want)
		}
	}
}

func TestModel_WritesBundleAndLeavesItOutOfTheManifest(t *testing.T) {
	root := model(t, map[string]string{"weights.bin": "w", "config.json": "{}"})
	s, _ := WithKey(newKey(t, elliptic.P256()))
	sig := filepath.Join(root, "model.sig")
	res, err := Model(context.Background(), root, s, Options{Signature: sig})
	if err != nil {
		t.Fatal(err)
	}
	on, err := os.ReadFile(sig)
	if err != nil || string(on) != string(res.Data) {
		t.Fatalf("bundle not written: %v", err)
	}
	var names []string
	for _, r := range res.Manifest.Resources {
		names = append(names, r.Name)
	}
	if strings.Join(names, ",") != "config.json,weights.bin" {
		t.Errorf("resources %v", names)
	}
	if !strings.Contains(strings.Join(res.Manifest.Serialization.IgnorePaths, ","), "model.sig") {
		t.Errorf("the signature path is not recorded as ignored: %v", res.Manifest.Serialization.IgnorePaths)
	}
	// Signing again with the bundle present gives the same manifest.
	again, err := Model(context.Background(), root, s, Options{Signature: sig})
	if err != nil || hex.EncodeToString(again.Manifest.RootDigest()) != hex.EncodeToString(res.Manifest.RootDigest()) {
		t.Errorf("re-signing changed the manifest: %v", err)
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 3 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	want := sha256.Sum256(append(sha256Of("{}"), sha256Of("w")...))
	if got := res.Manifest.RootDigest(); string(got) != string(want[:]) {
		t.Errorf("root digest %x", got)
	}
}

func sha256Of(s string) []byte { d := sha256.Sum256([]byte(s)); return d[:] }

func TestModel_RefusesWhatItCannotDescribe(t *testing.T) {
	s, _ := WithKey(newKey(t, elliptic.P256()))
	empty := model(t, map[string]string{".gitignore": "x"})
	if _, err := Model(context.Background(), empty, s, Options{Signature: filepath.Join(t.TempDir(), "m.sig")}); !errors.Is(err, oms.ErrEmptyModel) {
		t.Errorf("empty model: %v", err)
	}
	linked := model(t, map[string]string{"a": "1"})
	if err := os.Symlink("a", filepath.Join(linked, "b")); err != nil {
		t.Skip(err)
	}
	sig := filepath.Join(t.TempDir(), "m.sig")
	if _, err := Model(context.Background(), linked, s, Options{Signature: sig}); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("symlink: %v", err)
	}
	if _, err := os.Stat(sig); !os.IsNotExist(err) {
		t.Error("a refused model must leave no bundle")
	}
}

// The bundle never overwrites the model or a file that is not a bundle:
// --signature naming a model file used to leave that file out of the
// manifest and then replace it with the signature.
func TestModel_NeverOverwritesAModelFile(t *testing.T) {
	s, _ := WithKey(newKey(t, elliptic.P256()))
	root := model(t, map[string]string{"weights.bin": "w", "config.json": "{}"})
	single := filepath.Join(root, "weights.bin")
	for _, tc := range []struct{ model, sig string }{
		{root, filepath.Join(root, "config.json")}, // a model file
		{single, single}, // the model itself
		{single, filepath.Join(root, "config.json")}, // another file
		{root, root}, // the model directory
	} {
		before, _ := os.ReadFile(filepath.Join(root, "config.json"))
		if _, err := Model(context.Background(), tc.model, s, Options{Signature: tc.sig}); err == nil {
			t.Errorf("signing %s into %s succeeded", tc.model, tc.sig)
		}
		after, _ := os.ReadFile(filepath.Join(root, "config.json"))
		w, _ := os.ReadFile(single)
		if string(before) != string(after) || string(w) != "w" {
			t.Fatalf("signing %s into %s changed the model", tc.model, tc.sig)
		}
	}
	// An existing bundle is replaced (re-signing), and so is an empty
	// file (mktemp).
	sig := filepath.Join(t.TempDir(), "m.sig")
	os.WriteFile(sig, nil, 0o600)
	for range 2 {
		if _, err := Model(context.Background(), root, s, Options{Signature: sig}); err != nil {
			t.Fatal(err)
		}
	}
}
