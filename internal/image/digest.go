package image

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"io"
	"strings"
)

// newHash returns the hash a digest string names (sha256 when it names
// none or an unknown one).
func newHash(digest string) hash.Hash {
	if strings.HasPrefix(digest, "sha512:") {
		return sha512.New()
	}
	return sha256.New()
}

func algOf(digest string) string {
	if strings.HasPrefix(digest, "sha512:") {
		return "sha512"
	}
	return "sha256"
}

// digestOf hashes b with the algorithm digest names.
func digestOf(digest string, b []byte) string {
	h := newHash(digest)
	h.Write(b)
	return algOf(digest) + ":" + hex.EncodeToString(h.Sum(nil))
}

func sum(alg string, h hash.Hash) string { return alg + ":" + hex.EncodeToString(h.Sum(nil)) }

// countingReader counts what passes and feeds it to a hash.
type countingReader struct {
	r io.Reader
	h hash.Hash // nil: count only
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		if c.h != nil {
			c.h.Write(p[:n])
		}
	}
	return n, err
}
