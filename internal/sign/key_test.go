package sign

import (
	"errors"
	"os"
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
