// Package zipr is a tolerant, bounded reader for zip archives that works
// from the central directory, the way PyTorch's loader does.
//
// torch.load accepts archives that Go's archive/zip and Python's zipfile
// reject: local headers whose names disagree with the central directory,
// bad CRCs, data prepended to the archive. zipr reads what torch reads and
// reports the oddities as Anomalies instead of refusing, so a scanner sees
// exactly the bytes the loader will load. Every field that readers
// disagree about is exposed (central and local flags, methods, CRCs and
// sizes) so that callers can report the disagreement; docs/formats.md
// tabulates what torch, numpy and zipfile each accept. It never extracts
// to disk and bounds entry counts, name lengths and decompressed sizes.
package zipr

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz/lzma"

	"compress/bzip2"
)

// Signatures.
const (
	sigLocal     = 0x04034b50
	sigCentral   = 0x02014b50
	sigEnd       = 0x06054b50
	sigEnd64     = 0x06064b50
	sigLocator   = 0x07064b50
	maxComment   = 1<<16 - 1
	endLen       = 22
	centralLen   = 46
	localLen     = 30
	locator64Len = 20
)

// Compression methods.
const (
	Store   = 0
	Deflate = 8
	Bzip2   = 12
	LZMA    = 14
	Zstd    = 93
)

// General-purpose flag bits.
const (
	FlagEncrypted   = 0x0001 // traditional (ZipCrypto) or AES encryption
	FlagDescriptor  = 0x0008 // sizes and CRC follow the data
	FlagPatched     = 0x0020 // compressed patch data
	FlagStrong      = 0x0040 // strong encryption
	FlagUTF8        = 0x0800 // names are UTF-8
	FlagMaskedLocal = 0x2000 // local header values are masked (central directory encryption)
)

// ErrNotZip means no end-of-central-directory record was found.
var ErrNotZip = errors.New("not a zip archive (no end of central directory)")

// Entry is one central-directory record.
type Entry struct {
	Name           string
	Method         uint16
	Flags          uint16
	CRC32          uint32
	CompressedSize uint64
	Size           uint64
	HeaderOffset   uint64 // as recorded, before base adjustment
	ExternalAttrs  uint32
	CreatorOS      uint8
	Index          int

	r          *Reader
	dataOffset int64 // resolved lazily; -1 unknown
	local      Local
	localErr   error
	resolved   bool
}

// Local is what an entry's local header says. Loaders that work from the
// central directory (torch's miniz, zipfile, numpy) ignore all of it but
// the name (zipfile compares it); readers that stream through local
// headers use nothing else.
type Local struct {
	Name           string
	Flags          uint16
	Method         uint16
	CRC32          uint32
	CompressedSize uint32
	Size           uint32
}

// Mode returns the Unix file mode bits stored by Unix zip tools (0 if
// none).
func (e *Entry) Mode() uint32 {
	if e.CreatorOS == 3 {
		return e.ExternalAttrs >> 16
	}
	return 0
}

// IsSymlink reports a Unix symlink entry (its content is the target).
func (e *Entry) IsSymlink() bool { return e.Mode()&0o170000 == 0o120000 }

// IsDir reports a directory entry.
func (e *Entry) IsDir() bool {
	return len(e.Name) > 0 && e.Name[len(e.Name)-1] == '/' || e.Mode()&0o170000 == 0o040000
}

// Encrypted reports that the central directory flags the entry as
// encrypted (traditional or strong encryption). torch, numpy and zipfile
// then refuse to read it; the bytes themselves may be plaintext.
func (e *Entry) Encrypted() bool { return e.Flags&(FlagEncrypted|FlagStrong) != 0 }

// Reader is an opened archive.
type Reader struct {
	ra      io.ReaderAt
	size    int64
	Entries []*Entry
	// Base is the number of bytes prepended before the archive proper
	// (self-extracting stubs, polyglots). Offsets are adjusted by it.
	Base int64
	// Comment is the archive comment.
	Comment string
	// Anomalies lists structural oddities that loaders tolerate.
	Anomalies []string
	// Damage lists structural errors that make strict loaders (torch's
	// miniz) refuse the archive; the readable entries are still listed.
	Damage []string

	dirStart int64   // absolute offset of the central directory
	starts   []int64 // sorted absolute local header offsets, built on demand
}

// Limits bound parsing.
type Limits struct {
	MaxEntries int
	MaxCDSize  int64
}

// Open parses the central directory of the archive in ra.
func Open(ra io.ReaderAt, size int64, lim Limits) (*Reader, error) {
	if lim.MaxEntries <= 0 {
		lim.MaxEntries = 100_000
	}
	if lim.MaxCDSize <= 0 {
		lim.MaxCDSize = 64 << 20
	}
	z := &Reader{ra: ra, size: size}
	endOff, end, err := findEnd(ra, size)
	if err != nil {
		return nil, err
	}
	count := uint64(binary.LittleEndian.Uint16(end[10:]))
	cdSize := uint64(binary.LittleEndian.Uint32(end[12:]))
	cdOff := uint64(binary.LittleEndian.Uint32(end[16:]))
	clen := int(binary.LittleEndian.Uint16(end[20:]))
	if endOff+endLen+int64(clen) <= size {
		c := make([]byte, clen)
		if _, err := ra.ReadAt(c, endOff+endLen); err == nil {
			z.Comment = string(c)
		}
	}
	// The directory ends where the end record begins, or where the ZIP64
	// end record begins when a ZIP64 locator precedes the end record
	// (torch always writes one).
	dirEnd := endOff
	if rec, at, ok := findEnd64(ra, endOff); ok {
		count = binary.LittleEndian.Uint64(rec[32:])
		cdSize = binary.LittleEndian.Uint64(rec[40:])
		cdOff = binary.LittleEndian.Uint64(rec[48:])
		dirEnd = at
	}
	if cdSize > uint64(lim.MaxCDSize) || cdSize > uint64(size) {
		return nil, fmt.Errorf("central directory of %d bytes is larger than the limit or the file", cdSize)
	}
	// Any difference between where the directory is and where it says it
	// is, is data prepended to the archive.
	cdStart := dirEnd - int64(cdSize)
	if cdOff > uint64(size) {
		return nil, errors.New("central directory offset out of range")
	}
	if cdStart != int64(cdOff) {
		z.Base = cdStart - int64(cdOff)
		if z.Base < 0 {
			cdStart, z.Base = int64(cdOff), 0
		} else {
			z.Anomalies = append(z.Anomalies, fmt.Sprintf("%d bytes precede the archive", z.Base))
		}
	}
	if cdStart < 0 || cdStart > size {
		return nil, errors.New("central directory offset out of range")
	}
	z.dirStart = cdStart
	if count > uint64(lim.MaxEntries) {
		return nil, &LimitError{What: "zip entries", Limit: int64(lim.MaxEntries)}
	}
	br := bufio.NewReaderSize(io.NewSectionReader(ra, cdStart, int64(cdSize)), int(min(cdSize+16, 64<<10)))
	var hdr [centralLen]byte
	var slab []Entry // entries are allocated in blocks, not one by one
	var buf []byte
	for i := 0; ; i++ {
		if _, err := io.ReadFull(br, hdr[:4]); err != nil {
			break
		}
		if binary.LittleEndian.Uint32(hdr[:]) != sigCentral {
			break
		}
		if i >= lim.MaxEntries {
			return nil, &LimitError{What: "zip entries", Limit: int64(lim.MaxEntries)}
		}
		if _, err := io.ReadFull(br, hdr[4:]); err != nil {
			return nil, fmt.Errorf("central directory entry %d: %w", i, io.ErrUnexpectedEOF)
		}
		if len(slab) == 0 {
			slab = make([]Entry, min(max(count, 1), 1024, uint64(lim.MaxEntries)))
		}
		e := &slab[0]
		slab = slab[1:]
		*e = Entry{
			r:              z,
			Index:          i,
			CreatorOS:      hdr[5],
			Flags:          binary.LittleEndian.Uint16(hdr[8:]),
			Method:         binary.LittleEndian.Uint16(hdr[10:]),
			CRC32:          binary.LittleEndian.Uint32(hdr[16:]),
			CompressedSize: uint64(binary.LittleEndian.Uint32(hdr[20:])),
			Size:           uint64(binary.LittleEndian.Uint32(hdr[24:])),
			ExternalAttrs:  binary.LittleEndian.Uint32(hdr[38:]),
			HeaderOffset:   uint64(binary.LittleEndian.Uint32(hdr[42:])),
			dataOffset:     -1,
		}
		nameLen := int(binary.LittleEndian.Uint16(hdr[28:]))
		extraLen := int(binary.LittleEndian.Uint16(hdr[30:]))
		commentLen := int(binary.LittleEndian.Uint16(hdr[32:]))
		if n := nameLen + extraLen + commentLen; cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:nameLen+extraLen+commentLen]
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, fmt.Errorf("central directory entry %d: %w", i, io.ErrUnexpectedEOF)
		}
		e.Name = string(buf[:nameLen])
		parseZip64Extra(e, buf[nameLen:nameLen+extraLen])
		z.Entries = append(z.Entries, e)
		if a := torchRefuses(e); a != "" && len(z.Anomalies) < maxAnomalies {
			z.Anomalies = append(z.Anomalies, a)
		}
	}
	if uint64(len(z.Entries)) != count && count != 0xffff {
		z.Damage = append(z.Damage, fmt.Sprintf("end record counts %d entries, central directory holds %d", count, len(z.Entries)))
	}
	return z, nil
}

// maxAnomalies bounds the per-entry anomalies kept: one hostile directory
// must not become a hundred thousand findings.
const maxAnomalies = 16

// torchRefuses says why miniz, reading torch's archives, refuses this
// central directory record (or, for most reasons, the whole archive)
// while lenient readers read it (docs/formats.md), or "".
func torchRefuses(e *Entry) string {
	switch {
	case e.Flags&FlagPatched != 0:
		return fmt.Sprintf("member %q is flagged as patch data (bit 5); torch, numpy and zipfile refuse to read it", e.Name)
	case e.Flags&FlagMaskedLocal != 0:
		return fmt.Sprintf("member %q: the central directory flags masked local headers (bit 13); torch refuses the archive, zipfile reads it", e.Name)
	case e.Method == Store && !e.Encrypted() && e.CompressedSize != e.Size && e.Size != 0xffffffff && e.CompressedSize != 0xffffffff:
		return fmt.Sprintf("member %q is stored but records %d compressed and %d uncompressed bytes; torch refuses the archive, zipfile reads %d bytes", e.Name, e.CompressedSize, e.Size, e.CompressedSize)
	case e.Size != 0 && e.CompressedSize == 0:
		return fmt.Sprintf("member %q records %d bytes that compress to nothing; torch refuses the archive", e.Name, e.Size)
	}
	return ""
}

// LimitError is a bound that was hit.
type LimitError struct {
	What  string
	Limit int64
}

func (e *LimitError) Error() string { return fmt.Sprintf("%s limit reached (%d)", e.What, e.Limit) }

func parseZip64Extra(e *Entry, extra []byte) {
	for len(extra) >= 4 {
		id := binary.LittleEndian.Uint16(extra)
		n := int(binary.LittleEndian.Uint16(extra[2:]))
		if 4+n > len(extra) {
			return
		}
		field := extra[4 : 4+n]
		if id == 0x0001 {
			if e.Size == 0xffffffff && len(field) >= 8 {
				e.Size = binary.LittleEndian.Uint64(field)
				field = field[8:]
			}
			if e.CompressedSize == 0xffffffff && len(field) >= 8 {
				e.CompressedSize = binary.LittleEndian.Uint64(field)
				field = field[8:]
			}
			if e.HeaderOffset == 0xffffffff && len(field) >= 8 {
				e.HeaderOffset = binary.LittleEndian.Uint64(field)
			}
		}
		extra = extra[4+n:]
	}
}

// findEnd64 returns the ZIP64 end record announced by a locator right
// before the end record at endOff, and where it actually is (which differs
// from the recorded offset when data is prepended).
func findEnd64(ra io.ReaderAt, endOff int64) ([]byte, int64, bool) {
	if endOff < locator64Len+56 {
		return nil, 0, false
	}
	loc := make([]byte, locator64Len)
	if _, err := ra.ReadAt(loc, endOff-locator64Len); err != nil || binary.LittleEndian.Uint32(loc) != sigLocator {
		return nil, 0, false
	}
	rec := make([]byte, 56)
	for _, at := range []int64{endOff - locator64Len - 56, int64(binary.LittleEndian.Uint64(loc[8:]))} {
		if at < 0 || at > endOff {
			continue
		}
		if _, err := ra.ReadAt(rec, at); err == nil && binary.LittleEndian.Uint32(rec) == sigEnd64 {
			return rec, at, true
		}
	}
	return nil, 0, false
}

// findEnd locates the last end-of-central-directory record whose comment
// length fits the file.
func findEnd(ra io.ReaderAt, size int64) (int64, []byte, error) {
	if size < endLen {
		return 0, nil, ErrNotZip
	}
	// Most archives have no comment: look at the last bytes first, then
	// at the whole window a comment can occupy.
	for _, window := range []int64{512, endLen + maxComment} {
		n := min(window, size)
		buf := make([]byte, n)
		if _, err := ra.ReadAt(buf, size-n); err != nil && err != io.EOF {
			return 0, nil, err
		}
		for i := len(buf) - endLen; i >= 0; i-- {
			if binary.LittleEndian.Uint32(buf[i:]) != sigEnd {
				continue
			}
			clen := int(binary.LittleEndian.Uint16(buf[i+20:]))
			if i+endLen+clen <= len(buf) {
				return size - n + int64(i), buf[i : i+endLen], nil
			}
		}
		if n == size {
			break
		}
	}
	return 0, nil, ErrNotZip
}

// resolve finds where the entry's data starts from its local header.
func (e *Entry) resolve() error {
	if e.resolved {
		return e.localErr
	}
	e.resolved = true
	off := int64(e.HeaderOffset) + e.r.Base
	if off < 0 || off+localLen > e.r.size {
		e.localErr = fmt.Errorf("local header offset %d out of range", off)
		return e.localErr
	}
	var h [localLen]byte
	if _, err := e.r.ra.ReadAt(h[:], off); err != nil {
		e.localErr = err
		return err
	}
	if binary.LittleEndian.Uint32(h[:]) != sigLocal {
		e.localErr = fmt.Errorf("no local header at offset %d", off)
		return e.localErr
	}
	nameLen := int64(binary.LittleEndian.Uint16(h[26:]))
	extraLen := int64(binary.LittleEndian.Uint16(h[28:]))
	e.local = Local{
		Flags:          binary.LittleEndian.Uint16(h[6:]),
		Method:         binary.LittleEndian.Uint16(h[8:]),
		CRC32:          binary.LittleEndian.Uint32(h[14:]),
		CompressedSize: binary.LittleEndian.Uint32(h[18:]),
		Size:           binary.LittleEndian.Uint32(h[22:]),
	}
	if nameLen > 0 && off+localLen+nameLen <= e.r.size {
		nb := make([]byte, nameLen)
		if _, err := e.r.ra.ReadAt(nb, off+localLen); err == nil {
			e.local.Name = string(nb)
		}
	}
	e.dataOffset = off + localLen + nameLen + extraLen
	if e.dataOffset+int64(e.CompressedSize) > e.r.size {
		e.localErr = fmt.Errorf("data of %d bytes at offset %d runs past the end of the file", e.CompressedSize, e.dataOffset)
		return e.localErr
	}
	return nil
}

// LocalName is the name in the local header ("" if unreadable); torch
// ignores it, other tools use it.
func (e *Entry) LocalName() string {
	e.resolve()
	return e.local.Name
}

// LocalHeader returns what the entry's local header says, or the reason
// it cannot be read.
func (e *Entry) LocalHeader() (Local, error) {
	err := e.resolve()
	if e.local == (Local{}) && err != nil {
		return Local{}, err
	}
	return e.local, nil
}

// HeaderMismatch lists the fields in which the local header disagrees
// with the central directory, leaving out the name (see LocalName), the
// flags (see Local) and what a data descriptor or ZIP64 legitimately
// leaves out of it. Loaders
// read the central directory; streaming readers read the local header.
func (e *Entry) HeaderMismatch() []string {
	l, err := e.LocalHeader()
	if err != nil {
		return nil
	}
	var d []string
	if l.Method != e.Method {
		d = append(d, fmt.Sprintf("method %d (central %d)", l.Method, e.Method))
	}
	if l.Flags&FlagDescriptor == 0 {
		if l.CRC32 != e.CRC32 {
			d = append(d, fmt.Sprintf("CRC-32 %08x (central %08x)", l.CRC32, e.CRC32))
		}
		if l.CompressedSize != 0xffffffff && uint64(l.CompressedSize) != e.CompressedSize || l.Size != 0xffffffff && uint64(l.Size) != e.Size {
			d = append(d, fmt.Sprintf("sizes %d/%d (central %d/%d)", l.CompressedSize, l.Size, e.CompressedSize, e.Size))
		}
	}
	return d
}

// Overlaps reports whether the entry's data runs into the next local
// header or the central directory: zipfile refuses such an entry
// ("overlapped entries"), torch reads it.
func (e *Entry) Overlaps() bool {
	off, err := e.DataOffset()
	if err != nil {
		return false
	}
	z := e.r
	if z.starts == nil {
		z.starts = make([]int64, 0, len(z.Entries))
		for _, x := range z.Entries {
			z.starts = append(z.starts, int64(x.HeaderOffset)+z.Base)
		}
		slices.Sort(z.starts)
	}
	start := int64(e.HeaderOffset) + z.Base
	end := z.dirStart
	if i, _ := slices.BinarySearch(z.starts, start+1); i < len(z.starts) && z.starts[i] < end {
		end = z.starts[i]
	}
	return off+int64(e.CompressedSize) > end
}

// DataOffset is the absolute offset of the entry's (compressed) data.
func (e *Entry) DataOffset() (int64, error) {
	if err := e.resolve(); err != nil {
		return 0, err
	}
	return e.dataOffset, nil
}

// Stored reports whether the entry's bytes can be read in place (when it
// is flagged encrypted, they are read as plaintext).
func (e *Entry) Stored() bool { return e.Method == Store }

// Section returns the raw (compressed) bytes of the entry.
func (e *Entry) Section() (*io.SectionReader, error) {
	off, err := e.DataOffset()
	if err != nil {
		return nil, err
	}
	return io.NewSectionReader(e.r.ra, off, int64(e.CompressedSize)), nil
}

// ErrMethod is returned for compression methods zipr cannot decode.
type ErrMethod uint16

func (m ErrMethod) Error() string { return fmt.Sprintf("unsupported compression method %d", uint16(m)) }

// Open returns the decompressed content. The caller bounds how much it
// reads (the recorded size is a claim, not a fact).
func (e *Entry) Open() (io.Reader, error) {
	if e.Encrypted() {
		return nil, errors.New("encrypted entry")
	}
	sec, err := e.Section()
	if err != nil {
		return nil, err
	}
	return e.Decompress(sec)
}

// Decompress wraps raw, the entry's compressed bytes (as from Section),
// in the entry's decompressor. The encryption flags are ignored: the
// bytes are taken as plaintext, as lenient readers take them.
func (e *Entry) Decompress(raw io.Reader) (io.Reader, error) {
	switch e.Method {
	case Store:
		return raw, nil
	case Deflate:
		return flate.NewReader(raw), nil
	case Bzip2:
		return bzip2.NewReader(raw), nil
	case Zstd:
		d, err := zstd.NewReader(raw, zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(64<<20), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case LZMA:
		// zip's LZMA: 2-byte version, 2-byte properties size, properties.
		var h [4]byte
		if _, err := io.ReadFull(raw, h[:]); err != nil {
			return nil, err
		}
		if psize := binary.LittleEndian.Uint16(h[2:]); psize != 5 {
			return nil, fmt.Errorf("zip LZMA properties of %d bytes", psize)
		}
		props := make([]byte, 5, 13)
		if _, err := io.ReadFull(raw, props); err != nil {
			return nil, err
		}
		// Rebuild a classic .lzma header with an unknown size.
		hdr := append(props, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
		return lzma.ReaderConfig{DictCap: MaxLZMADict}.NewReader(io.MultiReader(bytes.NewReader(hdr), raw))
	}
	return nil, ErrMethod(e.Method)
}

// MaxLZMADict bounds the dictionary an LZMA member may ask for: the
// decoder allocates it up front, so a header claiming gigabytes would
// exhaust memory.
const MaxLZMADict = 64 << 20
