// Package torch analyses PyTorch checkpoints: the zip format torch.save
// writes by default, TorchScript archives, torch.export .pt2 archives, and
// the legacy format of consecutive pickles.
//
// Only pickle members are read; tensor storages are located but never
// read, so a multi-gigabyte checkpoint costs a few small reads. Nothing is
// ever loaded with torch or unpickled.
package torch

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/analyzer/archive"
	"github.com/aigis-dev/aigis/analyzer/pickle"
	"github.com/aigis-dev/aigis/internal/decode/zipr"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/internal/weights"
)

// legacyMagic is torch's magic number 0x1950a86a20f9469cfc6c as the
// first pickle of a legacy file writes it: LONG1 of 10 bytes (protocols 2
// to 5, after PROTO and, from protocol 4, a FRAME) or the text LONG of
// protocol 1.
var (
	legacyMagic     = []byte{0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}
	legacyMagicText = []byte("L119547037146038801333356L\n")
)

// IsLegacy reports whether head starts a legacy torch file of any pickle
// protocol torch.save accepts (1 to 5).
func IsLegacy(head []byte) bool {
	if bytes.HasPrefix(head, legacyMagicText) {
		return true
	}
	if len(head) < 2 || head[0] != 0x80 || head[1] < 2 || head[1] > 5 {
		return false
	}
	rest := head[2:]
	if len(rest) > 0 && rest[0] == 0x95 { // FRAME
		if len(rest) < 9 {
			return false
		}
		rest = rest[9:]
	}
	return bytes.HasPrefix(rest, legacyMagic)
}

// Legacy is torch.save(..., _use_new_zipfile_serialization=False): five
// pickles (magic number, protocol version, sys info, the object, storage
// keys) followed by raw storage bytes. torch.load unpickles all five, so
// a payload in any of them runs.
type Legacy struct{}

func (Legacy) Name() string { return "pytorch-legacy" }

func (Legacy) Match(s *analyzer.Sniff) bool { return IsLegacy(s.Head) }

func (Legacy) Analyze(ctx context.Context, in *analyzer.Input, out *analyzer.Result) error {
	sum, err := pickle.Scan(ctx, in, out, pickle.Options{MaxStreams: 5})
	if err != nil {
		return err
	}
	out.Model().LoadsPickle = true // torch.load unpickles all five
	if sum.Streams < 5 && !sum.Failed {
		out.Add(rules.New(rules.TorchLegacyIncomplete, out.At(sum.End), fmt.Sprintf("legacy torch file holds %d of its 5 pickles", sum.Streams)))
	}
	if in.Budget.Weights && sum.Streams == 5 && in.Seekable() {
		ra, size, err := in.ReaderAt()
		if err != nil {
			return err
		}
		return weights.Scan(ctx, in.Budget.CPU, ra, legacyStorages(ra, size, sum), out)
	}
	return nil
}

// legacyStorages locates the raw storages after the five pickles of a
// legacy checkpoint: torch writes them in sorted key order, each as a
// little-endian 8-byte element count and the elements. The walk stops at
// the first record that does not fit the file.
func legacyStorages(ra io.ReaderAt, size int64, sum *pickle.Summary) []analyzer.Tensor {
	types := map[string]string{}
	for i, k := range sum.StorageKeys {
		if i < len(sum.StorageTypes) {
			types[k] = sum.StorageTypes[i]
		}
	}
	keys := make([]string, 0, len(types))
	for k := range types {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var ts []analyzer.Tensor
	off := sum.End
	for _, k := range keys {
		var b [8]byte
		if _, err := ra.ReadAt(b[:], off); err != nil {
			break
		}
		n := binary.LittleEndian.Uint64(b[:])
		es := elemSize[types[k]]
		if es == 0 || n > uint64(size)/uint64(es) || off+8+int64(n)*es > size {
			break
		}
		ts = append(ts, analyzer.Tensor{Name: "storage/" + k, DType: storageDType(types[k]), Offset: off + 8, Size: int64(n) * es})
		off += 8 + int64(n)*es
	}
	return ts
}

// elemSize is the element size of each legacy storage class.
var elemSize = map[string]int64{
	"FloatStorage": 4, "DoubleStorage": 8, "HalfStorage": 2, "BFloat16Storage": 2,
	"LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1,
	"BoolStorage": 1, "ComplexFloatStorage": 8, "ComplexDoubleStorage": 16,
}

// ZipLayout recognises torch.save zips, TorchScript, .pt2 and
// torch.package archives.
type ZipLayout struct{}

func (ZipLayout) Name() string { return "pytorch-zip" }

func (ZipLayout) MatchZip(z *zipr.Reader) bool {
	for _, e := range z.Entries {
		switch path.Base(e.Name) {
		case "data.pkl", "constants.pkl", "archive_format":
			return true
		case "extern_modules":
			if path.Base(path.Dir(e.Name)) == ".data" {
				return true
			}
		}
	}
	return false
}

// metadata members torch writes beside the pickles; tiny and inert.
var metadata = map[string]bool{
	"version": true, ".format_version": true, ".storage_alignment": true, "byteorder": true,
	".data/serialization_id": true, ".data/version": true, "archive_format": true,
}

func (ZipLayout) AnalyzeZip(ctx context.Context, in *analyzer.Input, z *zipr.Reader, m *archive.Members, out *analyzer.Result) error {
	// torch names the archive after the first record's top directory and
	// reads "<prefix>/data.pkl" and "<prefix>/data/<key>" only.
	prefix := ""
	if len(z.Entries) > 0 {
		if i := strings.IndexByte(z.Entries[0].Name, '/'); i >= 0 {
			prefix = z.Entries[0].Name[:i+1]
		}
	}
	format := "pytorch-zip"
	switch {
	case m.Entry(prefix+".data/extern_modules") != nil:
		out.SetFormat("torch-package")
		return analyzePackage(ctx, z, m, prefix, out)
	case m.Entry(prefix+"constants.pkl") != nil || hasPrefix(z, prefix+"code/"):
		format = "torchscript"
	case m.Entry(prefix+"archive_format") != nil || hasPrefix(z, prefix+"models/"):
		format = "pt2"
	}
	out.SetFormat(format)

	loaded := map[string]bool{prefix + "data.pkl": true}
	if format == "torchscript" {
		loaded[prefix+"constants.pkl"] = true
	}
	// Storage keys are relative to the pickle's own directory: torch.load
	// and TorchScript read <prefix>data/<key> for data.pkl and
	// <prefix>constants/<key> for constants.pkl (a frozen module's
	// tensors).
	keys := make(map[string]bool, len(z.Entries))
	types := make(map[string]string, len(z.Entries))
	isPickle := map[*zipr.Entry]bool{}
	for _, e := range z.Entries {
		if !strings.HasSuffix(e.Name, ".pkl") && !strings.HasSuffix(e.Name, ".debug_pkl") || e.IsDir() {
			continue
		}
		isPickle[e] = true
		sum, err := scanPickle(ctx, m, e, out)
		if err != nil {
			return err
		}
		if sum == nil {
			continue
		}
		dir := strings.TrimSuffix(e.Name, ".pkl") + "/"
		for i, k := range sum.StorageKeys {
			keys[dir+k] = true
			if i < len(sum.StorageTypes) && e.Name == main0(prefix) {
				types[k] = sum.StorageTypes[i]
			}
		}
		if !loaded[e.Name] && !(format == "torchscript" && strings.HasSuffix(e.Name, ".debug_pkl")) {
			out.Add(rules.New(rules.TorchExtraPickle, out.Member(e.Name), fmt.Sprintf("pickle member %q is not one torch.load reads (it reads %s)", e.Name, strings.Join(sortedKeys(loaded), ", "))))
		}
	}
	if len(isPickle) > 0 {
		out.Model().LoadsPickle = true
	}
	main := prefix + "data.pkl"
	if format != "pt2" && m.Entry(main) == nil {
		out.Add(rules.New(rules.TorchMissingMember, out.Here(), fmt.Sprintf("the archive has no %s", main)))
	}
	present := make(map[string]bool, len(z.Entries))
	for _, e := range z.Entries {
		if isPickle[e] || e.IsDir() {
			continue
		}
		if format == "torchscript" && isCode(prefix, e.Name) {
			torchScriptCode(m, e, out)
			continue
		}
		if format != "pt2" {
			present[e.Name] = true
			if keys[e.Name] {
				continue // a tensor storage: raw numbers, never unpickled
			}
		}
		if metadata[strings.TrimPrefix(e.Name, prefix)] {
			continue
		}
		if err := m.Recurse(ctx, e); err != nil {
			return err
		}
	}
	var missing []string
	for k := range keys {
		if !present[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		out.Add(rules.New(rules.TorchMissingMember, out.Member(main), fmt.Sprintf("%d tensor storages referenced by the pickles are missing (first: %s)", len(missing), missing[0])))
	}
	if in.Budget.Weights && format == "pytorch-zip" {
		return weights.Scan(ctx, in.Budget.CPU, nil, storages(m, prefix, types), out)
	}
	return nil
}

func main0(prefix string) string { return prefix + "data.pkl" }

// scanPickle analyses a pickle member. A member flagged encrypted (which
// torch refuses to read) is analysed as plaintext when it starts like a
// pickle (archive.Members.Plaintext). The summary is nil when the member
// could not be read; that is reported.
func scanPickle(ctx context.Context, m *archive.Members, e *zipr.Entry, out *analyzer.Result) (*pickle.Summary, error) {
	var sum *pickle.Summary
	scan := func(o *analyzer.Result) (bool, error) {
		child, err := m.Input(e)
		if err != nil {
			return false, nil
		}
		if e.Encrypted() {
			if sn := child.Sniff(); !pickle.Sniff(sn.Head, sn.Size) {
				return false, nil
			}
		}
		sum, err = pickle.Scan(ctx, child, o.Child(child), pickle.Options{MaxStreams: 1, ReportTrailing: true})
		return true, err
	}
	if e.Encrypted() {
		return sum, m.Plaintext(ctx, e, scan)
	}
	if ok, err := scan(out); !ok {
		return nil, m.Recurse(ctx, e) // reports why it cannot be read
	} else if err != nil {
		return nil, err
	}
	return sum, nil
}

// storages locates the tensor storages of a torch zip for weight
// forensics and comparison, one tensor per storage (named data/<key>), typed by the
// storage class the pickle names. Compressed members are skipped: torch
// always stores storages uncompressed.
func storages(m *archive.Members, prefix string, types map[string]string) []analyzer.Tensor {
	var ts []analyzer.Tensor
	keys := make([]string, 0, len(types))
	for k := range types {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e := m.Entry(prefix + "data/" + k)
		if e == nil || !e.Stored() {
			continue
		}
		sec, err := e.Section()
		if err != nil {
			continue
		}
		ts = append(ts, analyzer.Tensor{Name: "data/" + k, DType: storageDType(types[k]), Offset: 0, Size: sec.Size(), RA: sec})
	}
	return ts
}

func storageDType(class string) analyzer.DType {
	switch class {
	case "FloatStorage":
		return analyzer.F32
	case "HalfStorage":
		return analyzer.F16
	case "BFloat16Storage":
		return analyzer.BF16
	case "DoubleStorage":
		return analyzer.F64
	}
	return analyzer.OtherDType
}

func hasPrefix(z *zipr.Reader, p string) bool {
	for _, e := range z.Entries {
		if strings.HasPrefix(e.Name, p) {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// ListZipTensors lists the storages of a torch zip checkpoint, one tensor
// per storage (archive.TensorLayout): data.pkl is scanned (never
// unpickled) for its storage keys and classes.
func (ZipLayout) ListZipTensors(ctx context.Context, in *analyzer.Input, z *zipr.Reader, m *archive.Members) ([]analyzer.Tensor, error) {
	prefix := ""
	if len(z.Entries) > 0 {
		if i := strings.IndexByte(z.Entries[0].Name, '/'); i >= 0 {
			prefix = z.Entries[0].Name[:i+1]
		}
	}
	e := m.Entry(main0(prefix))
	if e == nil {
		return nil, fmt.Errorf("torch archive without %s: %w", main0(prefix), analyzer.ErrNoTensors)
	}
	child, err := m.Input(e)
	if err != nil {
		return nil, err
	}
	sum, err := pickle.Scan(ctx, child, analyzer.NewResult(nil).Child(child), pickle.Options{MaxStreams: 1})
	if err != nil {
		return nil, err
	}
	types := make(map[string]string, len(z.Entries))
	for i, k := range sum.StorageKeys {
		if i < len(sum.StorageTypes) {
			types[k] = sum.StorageTypes[i]
		}
	}
	return storages(m, prefix, types), nil
}
