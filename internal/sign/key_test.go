package sign

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/oms"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Every encoding OpenSSL produces for the same P-256 key (testdata/gen.sh)
// yields that key.
func TestParsePrivateKey_EveryOpenSSLEncoding(t *testing.T) {
	pub, err := oms.ParsePublicKey(readFixture(t, "p256-pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	password := []byte("correct horse")
	for _, tc := range []struct {
		file      string
		encrypted bool
	}{
		{"p256-sec1.pem", false},
		{"p256-pkcs8.pem", false},
		{"p256-pbkdf2-aes256.pem", true},
		{"p256-pbkdf2sha1-aes128.pem", true},
		{"p256-scrypt.pem", true},
		{"p256-legacy-aes256.pem", true},
	} {
		data := readFixture(t, tc.file)
		if IsEncrypted(data) != tc.encrypted {
			t.Errorf("%s: IsEncrypted = %v", tc.file, !tc.encrypted)
		}
		var pw []byte
		if tc.encrypted {
			if _, err := ParsePrivateKey(data, nil); !errors.Is(err, ErrPasswordNeeded) {
				t.Errorf("%s without password: %v", tc.file, err)
			}
			if _, err := ParsePrivateKey(data, []byte("wrong horse")); err == nil {
				t.Errorf("%s: wrong password accepted", tc.file)
			}
			pw = password
		}
		k, err := ParsePrivateKey(data, pw)
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if !k.PublicKey.Equal(pub) {
			t.Errorf("%s: decoded another key", tc.file)
		}
	}
}

func TestParsePrivateKey_CurvesAndRefusals(t *testing.T) {
	for file, curve := range map[string]string{"p384-sec1.pem": "P-384", "p521-sec1.pem": "P-521"} {
		k, err := ParsePrivateKey(readFixture(t, file), nil)
		if err != nil || k.Curve.Params().Name != curve {
			t.Errorf("%s: %v", file, err)
		}
	}
	for file, want := range map[string]string{"p224-sec1.pem": "P-224", "rsa.pem": "rsa", "ed25519.pem": "ed25519"} {
		if _, err := ParsePrivateKey(readFixture(t, file), nil); err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(want)) {
			t.Errorf("%s: want a refusal naming %s, got %v", file, want, err)
		}
	}
	if _, err := ParsePrivateKey([]byte("Public Key Info: nothing here"), nil); err == nil {
		t.Error("garbage accepted")
	}
}

// MarshalPrivateKey writes what ParsePrivateKey and OpenSSL read back:
// encrypted PKCS #8 (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC) with a
// password, plain PKCS #8 without.
func TestMarshalPrivateKey_RoundTrip(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	password := []byte("correct horse")
	enc, err := MarshalPrivateKey(k, password)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(enc), "-----BEGIN ENCRYPTED PRIVATE KEY-----") || !IsEncrypted(enc) {
		t.Fatalf("not an encrypted PKCS #8 key:\n%s", enc)
	}
	if _, err := ParsePrivateKey(enc, nil); !errors.Is(err, ErrPasswordNeeded) {
		t.Errorf("without password: %v", err)
	}
	if _, err := ParsePrivateKey(enc, []byte("wrong horse")); err == nil {
		t.Error("wrong password accepted")
	}
	got, err := ParsePrivateKey(enc, password)
	if err != nil || !got.Equal(k) {
		t.Fatalf("round trip: %v", err)
	}
	again, _ := MarshalPrivateKey(k, password)
	if string(again) == string(enc) {
		t.Error("salt and IV are not random")
	}
	plain, err := MarshalPrivateKey(k, nil)
	if err != nil || IsEncrypted(plain) || !strings.HasPrefix(string(plain), "-----BEGIN PRIVATE KEY-----") {
		t.Fatalf("unencrypted: %v\n%s", err, plain)
	}
	if got, err := ParsePrivateKey(plain, nil); err != nil || !got.Equal(k) {
		t.Fatalf("unencrypted round trip: %v", err)
	}
	pub, err := MarshalPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := oms.ParsePublicKey(pub); err != nil || !p.Equal(&k.PublicKey) {
		t.Fatalf("public key: %v", err)
	}
	// OpenSSL, which most other tools use, reads the encrypted key as
	// the same key.
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("no openssl:", err)
	}
	keyFile := filepath.Join(t.TempDir(), "k.pem")
	os.WriteFile(keyFile, enc, 0o600)
	out, err := exec.Command(openssl, "pkey", "-in", keyFile, "-passin", "pass:correct horse", "-pubout").Output()
	if err != nil {
		t.Fatalf("openssl pkey: %v", err)
	}
	if string(out) != string(pub) {
		t.Errorf("openssl reads another key:\n%s\nwant\n%s", out, pub)
	}
}
