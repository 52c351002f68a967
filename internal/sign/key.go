package sign

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"

	"golang.org/x/crypto/scrypt"

	"github.com/aigis-dev/aigis/internal/oms"
)

// ErrPasswordNeeded means the private key is encrypted and no password
// was given: callers prompt and try again.
var ErrPasswordNeeded = errors.New("the private key is encrypted: a password is needed")

// IsEncrypted reports whether the first private key in data is encrypted.
func IsEncrypted(data []byte) bool {
	b := firstPrivateKeyBlock(data)
	return b != nil && (b.Type == "ENCRYPTED PRIVATE KEY" || x509.IsEncryptedPEMBlock(b)) //nolint:staticcheck
}

func firstPrivateKeyBlock(data []byte) *pem.Block {
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil
		}
		switch b.Type {
		case "EC PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
			return b
		}
	}
}

// ParsePrivateKey reads an ECDSA P-256, P-384 or P-521 private key from
// PEM: SEC 1 ("EC PRIVATE KEY"), PKCS #8 ("PRIVATE KEY"), encrypted PKCS #8
// (PBES2 with PBKDF2 or scrypt and AES-CBC, what `openssl genpkey -aes256`
// and Python's cryptography write) or legacy OpenSSL-encrypted PEM. Text
// around the PEM block is skipped. An encrypted key with no password
// returns ErrPasswordNeeded.
func ParsePrivateKey(data, password []byte) (*ecdsa.PrivateKey, error) {
	b := firstPrivateKeyBlock(data)
	if b == nil {
		return nil, errors.New("no PEM private key block (EC PRIVATE KEY, PRIVATE KEY or ENCRYPTED PRIVATE KEY) found")
	}
	der := b.Bytes
	var err error
	switch {
	case b.Type == "ENCRYPTED PRIVATE KEY":
		if len(password) == 0 {
			return nil, ErrPasswordNeeded
		}
		if der, err = decryptPKCS8(der, password); err != nil {
			return nil, err
		}
	case x509.IsEncryptedPEMBlock(b): //nolint:staticcheck
		if len(password) == 0 {
			return nil, ErrPasswordNeeded
		}
		if der, err = x509.DecryptPEMBlock(b, password); err != nil { //nolint:staticcheck
			return nil, fmt.Errorf("decrypting the private key: %w (wrong password?)", err)
		}
	}
	var key any
	if b.Type == "EC PRIVATE KEY" {
		key, err = x509.ParseECPrivateKey(der)
	} else {
		key, err = x509.ParsePKCS8PrivateKey(der)
	}
	if err != nil {
		if b.Type != "EC PRIVATE KEY" && b.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("the decrypted private key does not parse (wrong password?): %w", err)
		}
		return nil, err
	}
	k, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("unsupported %s private key: OMS keys are ECDSA P-256, P-384 or P-521", oms.KeyKind(key))
	}
	if _, err := oms.SignatureHash(&k.PublicKey); err != nil {
		return nil, err
	}
	return k, nil
}

var (
	oidPBES2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidScrypt = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}
	prfs      = map[string]func() hash.Hash{
		"1.2.840.113549.2.7":  sha1.New,
		"1.2.840.113549.2.8":  sha256.New224,
		"1.2.840.113549.2.9":  sha256.New,
		"1.2.840.113549.2.10": sha512.New384,
		"1.2.840.113549.2.11": sha512.New,
	}
	aesCBC = map[string]int{ // OID -> key length
		"2.16.840.1.101.3.4.1.2":  16,
		"2.16.840.1.101.3.4.1.22": 24,
		"2.16.840.1.101.3.4.1.42": 32,
	}
)

type encryptedPrivateKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Data      []byte
}

type pbes2Params struct {
	KDF    pkix.AlgorithmIdentifier
	Scheme pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                      `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
}

type scryptParams struct {
	Salt      []byte
	N         int
	R         int
	P         int
	KeyLength int `asn1:"optional"`
}

// Bounds on key-derivation cost, so a hostile key file cannot stall the
// signer for hours; real keys use far less.
const (
	maxPBKDF2Iterations = 10_000_000
	maxScryptN          = 1 << 22
)

// decryptPKCS8 undoes PKCS #5 v2.0 (PBES2) encryption of a PKCS #8 key.
func decryptPKCS8(der, password []byte) ([]byte, error) {
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("encrypted private key is not PKCS #8: %v", err)
	}
	if !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, fmt.Errorf("encrypted private key uses %v; only PBES2 is supported", info.Algorithm.Algorithm)
	}
	var params pbes2Params
	if _, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &params); err != nil {
		return nil, fmt.Errorf("PBES2 parameters: %v", err)
	}
	keyLen, ok := aesCBC[params.Scheme.Algorithm.String()]
	if !ok {
		return nil, fmt.Errorf("encrypted private key uses cipher %v; only AES-CBC is supported", params.Scheme.Algorithm)
	}
	var iv []byte
	if _, err := asn1.Unmarshal(params.Scheme.Parameters.FullBytes, &iv); err != nil || len(iv) != aes.BlockSize {
		return nil, errors.New("AES-CBC parameters: bad IV")
	}
	var kek []byte
	switch {
	case params.KDF.Algorithm.Equal(oidPBKDF2):
		var p pbkdf2Params
		if _, err := asn1.Unmarshal(params.KDF.Parameters.FullBytes, &p); err != nil {
			return nil, fmt.Errorf("PBKDF2 parameters: %v", err)
		}
		if p.Iterations <= 0 || p.Iterations > maxPBKDF2Iterations {
			return nil, fmt.Errorf("PBKDF2 iteration count %d is out of range", p.Iterations)
		}
		prf := sha1.New
		if len(p.PRF.Algorithm) > 0 {
			if prf, ok = prfs[p.PRF.Algorithm.String()]; !ok {
				return nil, fmt.Errorf("PBKDF2 PRF %v is not supported", p.PRF.Algorithm)
			}
		}
		var err error
		if kek, err = pbkdf2.Key(prf, string(password), p.Salt, p.Iterations, keyLen); err != nil {
			return nil, err
		}
	case params.KDF.Algorithm.Equal(oidScrypt):
		var p scryptParams
		if _, err := asn1.Unmarshal(params.KDF.Parameters.FullBytes, &p); err != nil {
			return nil, fmt.Errorf("scrypt parameters: %v", err)
		}
		if p.N <= 1 || p.N > maxScryptN || p.R <= 0 || p.P <= 0 || p.R*p.P >= 1<<16 {
			return nil, errors.New("scrypt parameters are out of range")
		}
		var err error
		if kek, err = scrypt.Key(password, p.Salt, p.N, p.R, p.P, keyLen); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("key derivation %v is not supported (want PBKDF2 or scrypt)", params.KDF.Algorithm)
	}
	if len(info.Data) == 0 || len(info.Data)%aes.BlockSize != 0 {
		return nil, errors.New("encrypted private key data is not whole AES blocks")
	}
	block, _ := aes.NewCipher(kek)
	plain := make([]byte, len(info.Data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, info.Data)
	// PKCS #7 padding; a wrong password almost always breaks it.
	n := int(plain[len(plain)-1])
	if n == 0 || n > aes.BlockSize {
		return nil, errors.New("decrypting the private key failed (wrong password?)")
	}
	for _, c := range plain[len(plain)-n:] {
		if int(c) != n {
			return nil, errors.New("decrypting the private key failed (wrong password?)")
		}
	}
	return plain[:len(plain)-n], nil
}

// KeyIterations is the PBKDF2-HMAC-SHA256 iteration count
// MarshalPrivateKey uses (OWASP's 2023 recommendation); reading the key
// costs about a quarter of a second.
const KeyIterations = 600_000

var (
	oidHMACWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidAES256CBC      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

// MarshalPrivateKey writes key as PKCS #8 PEM. With a password it is an
// "ENCRYPTED PRIVATE KEY": PBES2 with PBKDF2-HMAC-SHA256 (KeyIterations,
// 16-byte random salt) and AES-256-CBC, what `openssl genpkey -aes256`
// writes and what ParsePrivateKey, OpenSSL and Python's cryptography
// read. Without one it is a plain "PRIVATE KEY".
func MarshalPrivateKey(key *ecdsa.PrivateKey, password []byte) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if len(password) == 0 {
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
	salt := make([]byte, 16)
	iv := make([]byte, aes.BlockSize)
	rand.Read(salt)
	rand.Read(iv)
	kek, err := pbkdf2.Key(sha256.New, string(password), salt, KeyIterations, 32)
	if err != nil {
		return nil, err
	}
	n := aes.BlockSize - len(der)%aes.BlockSize
	plain := append(der, bytes.Repeat([]byte{byte(n)}, n)...)
	block, _ := aes.NewCipher(kek)
	data := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(data, plain)
	clear(plain)

	kdf, err := asn1.Marshal(pbkdf2Params{Salt: salt, Iterations: KeyIterations,
		PRF: pkix.AlgorithmIdentifier{Algorithm: oidHMACWithSHA256, Parameters: asn1.NullRawValue}})
	if err != nil {
		return nil, err
	}
	ivDER, err := asn1.Marshal(iv)
	if err != nil {
		return nil, err
	}
	params, err := asn1.Marshal(pbes2Params{
		KDF:    pkix.AlgorithmIdentifier{Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: kdf}},
		Scheme: pkix.AlgorithmIdentifier{Algorithm: oidAES256CBC, Parameters: asn1.RawValue{FullBytes: ivDER}},
	})
	if err != nil {
		return nil, err
	}
	out, err := asn1.Marshal(encryptedPrivateKeyInfo{
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: params}},
		Data:      data,
	})
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: out}), nil
}

// MarshalPublicKey writes the PEM "PUBLIC KEY" (SubjectPublicKeyInfo)
// that verify --public-key and model_signing read.
func MarshalPublicKey(pub *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
