package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/ulikunitz/xz/lzma"
)

// The 7z library allocates slices sized by counts in the archive header
// (up to 2^32 files) before it has read them, and decoders sized by
// dictionary lengths the header claims. check7z walks the header first,
// with its own bounded reader, so that only plausible archives reach it.

const (
	k7zEnd = iota
	k7zHeader
	k7zArchiveProperties
	k7zAdditionalStreamsInfo
	k7zMainStreamsInfo
	k7zFilesInfo
	k7zPackInfo
	k7zUnpackInfo
	k7zSubStreamsInfo
	k7zSize
	k7zCRC
	k7zFolder
	k7zCodersUnpackSize
	k7zNumUnpackStream
)

const k7zEncodedHeader = 0x17

var sig7z = []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}

// maxHeader7z bounds the (decoded) header read into memory.
const maxHeader7z = 16 << 20

// err7z marks a structurally invalid archive; errUnsupported7z one whose
// header cannot be checked (encrypted or encoded with an exotic method).
var errUnsupported7z = errors.New("7z header is encrypted or encoded with a method aigis does not decode")

type hdr7z struct {
	b         []byte
	i         int
	lim       int  // largest count accepted
	encrypted bool // a folder is AES-encrypted
}

var aes7z = []byte{0x06, 0xf1, 0x07, 0x01}

func (h *hdr7z) byte() (byte, error) {
	if h.i >= len(h.b) {
		return 0, io.ErrUnexpectedEOF
	}
	c := h.b[h.i]
	h.i++
	return c, nil
}

// number reads 7z's variable-length UINT64.
func (h *hdr7z) number() (uint64, error) {
	first, err := h.byte()
	if err != nil {
		return 0, err
	}
	var v uint64
	mask := byte(0x80)
	for i := 0; i < 8; i++ {
		if first&mask == 0 {
			hi := uint64(first & (mask - 1))
			return v | hi<<(8*uint(i)), nil
		}
		b, err := h.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(b) << (8 * uint(i))
		mask >>= 1
	}
	return v, nil
}

// count reads a number that sizes a list and bounds it by the limit and
// by the bytes left (every item takes at least a bit).
func (h *hdr7z) count(what string) (int, error) {
	n, err := h.number()
	if err != nil {
		return 0, err
	}
	if n > uint64(h.lim) || n > uint64(8*(len(h.b)-h.i)+8) {
		return 0, fmt.Errorf("7z header claims %d %s", n, what)
	}
	return int(n), nil
}

func (h *hdr7z) skip(n uint64) error {
	if n > uint64(len(h.b)-h.i) {
		return io.ErrUnexpectedEOF
	}
	h.i += int(n)
	return nil
}

// skipProperties skips a list of (id, size, bytes) properties up to its
// kEnd, as the archive-properties and files-info blocks hold.
func (h *hdr7z) skipProperties() error {
	for {
		t, err := h.byte()
		if err != nil {
			return err
		}
		if t == k7zEnd {
			return nil
		}
		n, err := h.number()
		if err != nil {
			return err
		}
		if err := h.skip(n); err != nil {
			return err
		}
	}
}

func (h *hdr7z) expect(id byte) error {
	b, err := h.byte()
	if err != nil {
		return err
	}
	if b != id {
		return fmt.Errorf("7z header: property 0x%02x where 0x%02x was expected", b, id)
	}
	return nil
}

// digests skips a CRC list of n items.
func (h *hdr7z) digests(n int) error {
	all, err := h.byte()
	if err != nil {
		return err
	}
	defined := n
	if all == 0 {
		if err := h.skip(uint64((n + 7) / 8)); err != nil {
			return err
		}
	}
	return h.skip(uint64(4 * defined))
}

type folder7z struct {
	coders   []coder7z
	outTotal int
}

type coder7z struct {
	id    []byte
	props []byte
}

type streams7z struct {
	packPos   uint64
	packSizes []uint64
	folders   []folder7z
	unpack    [][]uint64
}

func (h *hdr7z) streamsInfo() (*streams7z, error) {
	s := &streams7z{}
	for {
		id, err := h.byte()
		if err != nil {
			return nil, err
		}
		switch id {
		case k7zEnd:
			return s, nil
		case k7zPackInfo:
			if s.packPos, err = h.number(); err != nil {
				return nil, err
			}
			n, err := h.count("pack streams")
			if err != nil {
				return nil, err
			}
			for {
				id, err := h.byte()
				if err != nil {
					return nil, err
				}
				if id == k7zEnd {
					break
				}
				switch id {
				case k7zSize:
					s.packSizes = make([]uint64, n)
					for i := range s.packSizes {
						if s.packSizes[i], err = h.number(); err != nil {
							return nil, err
						}
					}
				case k7zCRC:
					if err := h.digests(n); err != nil {
						return nil, err
					}
				default:
					return nil, fmt.Errorf("7z pack info: property 0x%02x", id)
				}
			}
		case k7zUnpackInfo:
			if err := h.expect(k7zFolder); err != nil {
				return nil, err
			}
			n, err := h.count("folders")
			if err != nil {
				return nil, err
			}
			if ext, err := h.byte(); err != nil || ext != 0 {
				return nil, errors.New("7z folders stored externally")
			}
			for i := 0; i < n; i++ {
				f, err := h.folder()
				if err != nil {
					return nil, err
				}
				s.folders = append(s.folders, f)
			}
			if err := h.expect(k7zCodersUnpackSize); err != nil {
				return nil, err
			}
			for _, f := range s.folders {
				sizes := make([]uint64, f.outTotal)
				for j := range sizes {
					if sizes[j], err = h.number(); err != nil {
						return nil, err
					}
				}
				s.unpack = append(s.unpack, sizes)
			}
			for {
				id, err := h.byte()
				if err != nil {
					return nil, err
				}
				if id == k7zEnd {
					break
				}
				if id != k7zCRC {
					return nil, fmt.Errorf("7z unpack info: property 0x%02x", id)
				}
				if err := h.digests(n); err != nil {
					return nil, err
				}
			}
		case k7zSubStreamsInfo:
			if err := h.subStreams(len(s.folders)); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("7z streams info: property 0x%02x", id)
		}
	}
}

func (h *hdr7z) folder() (folder7z, error) {
	var f folder7z
	n, err := h.number()
	if err != nil {
		return f, err
	}
	if n == 0 || n > 32 {
		return f, fmt.Errorf("7z folder with %d coders", n)
	}
	inTotal := 0
	for i := uint64(0); i < n; i++ {
		flag, err := h.byte()
		if err != nil {
			return f, err
		}
		if flag&0x80 != 0 {
			return f, errors.New("7z alternative coder methods")
		}
		var c coder7z
		idLen := int(flag & 0x0f)
		if h.i+idLen > len(h.b) {
			return f, io.ErrUnexpectedEOF
		}
		c.id = h.b[h.i : h.i+idLen]
		h.i += idLen
		if bytes.Equal(c.id, aes7z) {
			h.encrypted = true
		}
		in, out := uint64(1), uint64(1)
		if flag&0x10 != 0 {
			if in, err = h.number(); err != nil {
				return f, err
			}
			if out, err = h.number(); err != nil {
				return f, err
			}
			if in > 32 || out > 32 {
				return f, errors.New("7z coder with too many streams")
			}
		}
		inTotal += int(in)
		f.outTotal += int(out)
		if flag&0x20 != 0 {
			size, err := h.number()
			if err != nil {
				return f, err
			}
			if size > uint64(len(h.b)-h.i) {
				return f, io.ErrUnexpectedEOF
			}
			c.props = h.b[h.i : h.i+int(size)]
			h.i += int(size)
		}
		f.coders = append(f.coders, c)
	}
	bind := f.outTotal - 1
	if bind < 0 || inTotal < bind {
		return f, errors.New("7z folder streams do not bind")
	}
	for i := 0; i < bind; i++ {
		if _, err := h.number(); err != nil {
			return f, err
		}
		if _, err := h.number(); err != nil {
			return f, err
		}
	}
	if packed := inTotal - bind; packed > 1 {
		for i := 0; i < packed; i++ {
			if _, err := h.number(); err != nil {
				return f, err
			}
		}
	}
	return f, nil
}

func (h *hdr7z) subStreams(folders int) error {
	total := folders
	id, err := h.byte()
	if err != nil {
		return err
	}
	if id == k7zNumUnpackStream {
		total = 0
		for i := 0; i < folders; i++ {
			n, err := h.count("unpack streams")
			if err != nil {
				return err
			}
			if total += n; total > h.lim {
				return fmt.Errorf("7z header claims more than %d streams", h.lim)
			}
		}
		if id, err = h.byte(); err != nil {
			return err
		}
	}
	for id != k7zEnd {
		switch id {
		case k7zSize:
			for i := 0; i < total-folders; i++ {
				if _, err := h.number(); err != nil {
					return err
				}
			}
		case k7zCRC:
			if err := h.digests(total); err != nil {
				return err
			}
		default:
			return fmt.Errorf("7z substreams: property 0x%02x", id)
		}
		if id, err = h.byte(); err != nil {
			return err
		}
	}
	return nil
}

func (h *hdr7z) header() error {
	for {
		id, err := h.byte()
		if err != nil {
			return err
		}
		switch id {
		case k7zEnd:
			return nil
		case k7zArchiveProperties:
			if err := h.skipProperties(); err != nil {
				return err
			}
		case k7zAdditionalStreamsInfo, k7zMainStreamsInfo:
			if _, err := h.streamsInfo(); err != nil {
				return err
			}
		case k7zFilesInfo:
			if _, err := h.count("files"); err != nil {
				return err
			}
			if err := h.skipProperties(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("7z header: property 0x%02x", id)
		}
	}
}

// check7z validates the archive's headers within the entry limit and
// reports whether member data is encrypted.
func check7z(ra io.ReaderAt, size int64, maxEntries int) (bool, error) {
	var sh [32]byte
	if _, err := ra.ReadAt(sh[:], 0); err != nil {
		return false, io.ErrUnexpectedEOF
	}
	if !bytes.Equal(sh[:6], sig7z) {
		return false, errors.New("no 7z signature at the start")
	}
	if crc32.ChecksumIEEE(sh[12:32]) != binary.LittleEndian.Uint32(sh[8:]) {
		return false, errors.New("7z start header checksum mismatch")
	}
	off := binary.LittleEndian.Uint64(sh[12:])
	n := binary.LittleEndian.Uint64(sh[20:])
	if n > maxHeader7z {
		return false, fmt.Errorf("7z header of %d bytes", n)
	}
	if off > uint64(size) || 32+off+n > uint64(size) {
		return false, fmt.Errorf("7z header at %d runs past the end of the file: %w", 32+off, io.ErrUnexpectedEOF)
	}
	b := make([]byte, n)
	if _, err := ra.ReadAt(b, int64(32+off)); err != nil {
		return false, err
	}
	if crc32.ChecksumIEEE(b) != binary.LittleEndian.Uint32(sh[28:]) {
		return false, errors.New("7z header checksum mismatch")
	}
	for depth := 0; depth < 4; depth++ {
		h := &hdr7z{b: b, lim: maxEntries}
		id, err := h.byte()
		if err != nil {
			return false, err
		}
		switch id {
		case k7zHeader:
			err := h.header()
			return h.encrypted, err
		case k7zEncodedHeader:
			s, err := h.streamsInfo()
			if err != nil {
				return false, err
			}
			if h.encrypted {
				return true, errUnsupported7z
			}
			if b, err = decodeHeader7z(ra, size, s); err != nil {
				return false, err
			}
		default:
			return false, fmt.Errorf("7z header starts with property 0x%02x", id)
		}
	}
	return false, errors.New("7z headers encoded too many times")
}

// decodeHeader7z unpacks an encoded header (LZMA, LZMA2 or stored), the
// only methods 7-Zip uses for headers unless they are encrypted.
func decodeHeader7z(ra io.ReaderAt, size int64, s *streams7z) ([]byte, error) {
	if len(s.folders) != 1 || len(s.packSizes) < 1 || len(s.unpack) != 1 || len(s.folders[0].coders) != 1 {
		return nil, errUnsupported7z
	}
	want := s.unpack[0][len(s.unpack[0])-1]
	if want > maxHeader7z {
		return nil, fmt.Errorf("7z encoded header unpacks to %d bytes", want)
	}
	start := 32 + s.packPos
	if start > uint64(size) || s.packSizes[0] > uint64(size)-start {
		return nil, fmt.Errorf("7z packed header runs past the end: %w", io.ErrUnexpectedEOF)
	}
	src := io.NewSectionReader(ra, int64(start), int64(s.packSizes[0]))
	c := s.folders[0].coders[0]
	var r io.Reader
	switch {
	case bytes.Equal(c.id, []byte{0}):
		r = src
	case bytes.Equal(c.id, []byte{3, 1, 1}) && len(c.props) == 5:
		hdr := append(append([]byte{}, c.props...), make([]byte, 8)...)
		binary.LittleEndian.PutUint64(hdr[5:], want)
		lr, err := lzma.ReaderConfig{DictCap: maxDict7z}.NewReader(io.MultiReader(bytes.NewReader(hdr), src))
		if err != nil {
			return nil, err
		}
		r = lr
	case bytes.Equal(c.id, []byte{0x21}) && len(c.props) == 1:
		lr, err := newLZMA2(c.props, src)
		if err != nil {
			return nil, err
		}
		r = lr
	default:
		return nil, errUnsupported7z
	}
	out := make([]byte, want)
	if _, err := io.ReadFull(r, out); err != nil {
		return nil, fmt.Errorf("7z encoded header: %w", err)
	}
	return out, nil
}
