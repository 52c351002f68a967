package pickle

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/aigis-dev/aigis/internal/rules"
)

// A constant that is itself a pickle does nothing when the outer file
// loads; it runs only if the application unpickles it later. Such a
// latent payload that imports something dangerous is reported as
// suspicious (a loader call on it is reported as malicious elsewhere).

// pickleHeader is PROTO 2-5; enough to tell a pickle from other bytes.
var pickleHeader = []byte{0x80, 0}

// maxLatent bounds latent checks per input and the bytes each reads.
const (
	maxLatent      = 32
	maxLatentBytes = 1 << 20
)

func looksLikePickle(p []byte) bool {
	return len(p) >= 3 && p[0] == 0x80 && p[1] >= 2 && p[1] <= 5 && isOpcode(p[2])
}

// latent checks a bytes constant (p is its start, or all of it).
func (m *machine) latent(p []byte, off, n int64) {
	if m.sink == nil || !looksLikePickle(p) || m.sink.latentN >= maxLatent {
		return
	}
	m.sink.latentN++
	var r io.Reader
	if int64(len(p)) == n {
		r = bytes.NewReader(bytes.Clone(p))
	} else {
		ra, _, err := m.sink.in.ReaderAt()
		if err != nil {
			return
		}
		r = io.NewSectionReader(ra, off, min(n, maxLatentBytes))
	}
	m.checkLatent(r, off, "a bytes constant")
}

// latentBase64 checks a str constant that is base64 of a pickle. Every
// base64-encoded PROTO 2-5 header starts "gA" and a letter from I to X
// (the protocol and the top bits of the first opcode).
func (m *machine) latentBase64(p []byte) {
	if m.sink == nil || len(p) < 16 || m.sink.latentN >= maxLatent {
		return
	}
	if p[0] != 'g' || p[1] != 'A' || p[2] < 'I' || p[2] > 'X' {
		return
	}
	raw, err := decodeBase64(p, false)
	if err != nil || !looksLikePickle(raw) {
		return
	}
	m.sink.latentN++
	m.checkLatent(bytes.NewReader(raw), m.opOff, "a base64 string constant")
}

func (m *machine) checkLatent(r io.Reader, off int64, what string) {
	sub := newMachine(m.ctx, newReader(io.LimitReader(r, maxLatentBytes), -1), m.lim, nil)
	sub.run()
	var bad []string
	for i := range sub.globs {
		g := &sub.globs[i]
		if g.dec.Action == rules.Deny || g.dec.Traversal != "" || g.unresolved != "" {
			bad = append(bad, g.dec.Module+"."+g.dec.Name)
		}
	}
	if len(bad) > 0 {
		m.sink.anomaly(rules.PickleLatentPayload, off, fmt.Sprintf("%s is itself a pickle that imports %s; unpickling it later would run it", what, strings.Join(bad, ", ")))
	}
}
