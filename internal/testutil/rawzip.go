package testutil

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
)

// RawMember is one member for RawZip, with every header field that the
// local header and the central directory may disagree about under the
// test's control. Zero values are what a well-behaved writer puts there.
type RawMember struct {
	Name string
	Data []byte
	// Method is the central directory's compression method; Deflate (8)
	// compresses Data, anything else stores it as is.
	Method uint16
	// CentralFlags and LocalFlags are the general-purpose bit flags.
	CentralFlags, LocalFlags uint16
	// LocalName and LocalMethod override the local header's copies.
	LocalName   *string
	LocalMethod *uint16
	// CRC overrides both CRC-32s; LocalCRC only the local header's.
	CRC, LocalCRC *uint32
	// CompressedSize and Size override the central directory's sizes;
	// LocalSizes sets both of the local header's.
	CompressedSize, Size *uint32
	LocalSizes           *[2]uint32
	// LocalExtra and CentralExtra are the extra fields.
	LocalExtra, CentralExtra []byte
	// Raw replaces the member's bytes as written (compressed or not).
	Raw []byte
}

// RawZip writes members field by field, the way the loader probes of
// internal/gen/loaderprobe do, after prepend.
func RawZip(prepend []byte, members ...RawMember) []byte {
	var out, cd bytes.Buffer
	out.Write(prepend)
	le16 := func(b *bytes.Buffer, v uint16) { binary.Write(b, binary.LittleEndian, v) }
	le32 := func(b *bytes.Buffer, v uint32) { binary.Write(b, binary.LittleEndian, v) }
	for _, m := range members {
		payload := m.Data
		switch {
		case m.Raw != nil:
			payload = m.Raw
		case m.Method == 8:
			var z bytes.Buffer
			w, _ := flate.NewWriter(&z, 6)
			w.Write(m.Data)
			w.Close()
			payload = z.Bytes()
		}
		crc := crc32.ChecksumIEEE(m.Data)
		if m.CRC != nil {
			crc = *m.CRC
		}
		lcrc := crc
		if m.LocalCRC != nil {
			lcrc = *m.LocalCRC
		}
		csize, usize := uint32(len(payload)), uint32(len(m.Data))
		lcsize, lusize := csize, usize
		if m.LocalSizes != nil {
			lcsize, lusize = m.LocalSizes[0], m.LocalSizes[1]
		}
		if m.CompressedSize != nil {
			csize = *m.CompressedSize
		}
		if m.Size != nil {
			usize = *m.Size
		}
		lname, lmethod := m.Name, m.Method
		if m.LocalName != nil {
			lname = *m.LocalName
		}
		if m.LocalMethod != nil {
			lmethod = *m.LocalMethod
		}
		off := uint32(out.Len() - len(prepend))
		le32(&out, 0x04034b50)
		le16(&out, 20)
		le16(&out, m.LocalFlags)
		le16(&out, lmethod)
		le32(&out, 0) // time, date
		le32(&out, lcrc)
		le32(&out, lcsize)
		le32(&out, lusize)
		le16(&out, uint16(len(lname)))
		le16(&out, uint16(len(m.LocalExtra)))
		out.WriteString(lname)
		out.Write(m.LocalExtra)
		out.Write(payload)

		le32(&cd, 0x02014b50)
		le16(&cd, 20)
		le16(&cd, 20)
		le16(&cd, m.CentralFlags)
		le16(&cd, m.Method)
		le32(&cd, 0)
		le32(&cd, crc)
		le32(&cd, csize)
		le32(&cd, usize)
		le16(&cd, uint16(len(m.Name)))
		le16(&cd, uint16(len(m.CentralExtra)))
		le16(&cd, 0) // comment
		le16(&cd, 0) // disk
		le16(&cd, 0) // internal attributes
		le32(&cd, 0) // external attributes
		le32(&cd, off)
		cd.WriteString(m.Name)
		cd.Write(m.CentralExtra)
	}
	cdOff := uint32(out.Len() - len(prepend))
	cdLen := uint32(cd.Len())
	out.Write(cd.Bytes())
	le32(&out, 0x06054b50)
	le32(&out, 0)
	le16(&out, uint16(len(members)))
	le16(&out, uint16(len(members)))
	le32(&out, cdLen)
	le32(&out, cdOff)
	le16(&out, 0)
	return out.Bytes()
}

// Ptr returns a pointer to v, for RawMember's overrides.
func Ptr[T any](v T) *T { return &v }
