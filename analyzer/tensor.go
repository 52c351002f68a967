package analyzer

import (
	"context"
	"errors"
	"io"
)

// TensorLister is implemented by the analysers of formats whose tensors
// can be located from the header (safetensors, GGUF, .npy, torch zip
// checkpoints): weight comparison (aigis diff, scan --base) and weight
// forensics read tensor bytes where the lister says they are. The scan
// engine picks the lister the way it picks the analyser of a file, so a
// format is recognised in one place.
type TensorLister interface {
	// ListTensors locates the tensors of in from its header, without
	// reading tensor data. It returns ErrNoTensors (wrapped) when the
	// content has no tensors to compare (a zip that is no checkpoint,
	// an array of Python objects), any other error when the header is
	// malformed.
	ListTensors(ctx context.Context, in *Input) ([]Tensor, error)
}

// ErrNoTensors says that content in a recognised format has no tensors to
// list.
var ErrNoTensors = errors.New("no tensors to compare")

// DType is the element type of a tensor, as far as weight forensics and
// comparison care.
type DType int

const (
	OtherDType DType = iota // integers, quantised blocks: bytes only
	F32
	F16
	BF16
	F64
)

func (d DType) String() string {
	return [...]string{"other", "f32", "f16", "bf16", "f64"}[d]
}

// ParseDType maps the dtype names safetensors and GGUF share ("F32",
// "F16", "BF16", "F64") to a DType; anything else is OtherDType.
func ParseDType(name string) DType {
	switch name {
	case "F32":
		return F32
	case "F16":
		return F16
	case "BF16":
		return BF16
	case "F64":
		return F64
	}
	return OtherDType
}

// Size is the element size in bytes (0 for OtherDType).
func (d DType) Size() int {
	return [...]int{0, 4, 2, 2, 8}[d]
}

// Tensor locates one tensor's bytes.
type Tensor struct {
	Name   string
	DType  DType
	Shape  []int64
	Offset int64 // offset of the first byte
	Size   int64 // bytes
	// RA, when set, is where this tensor's bytes are read from (an archive
	// member) instead of the file the tensors were listed from.
	RA io.ReaderAt
}

// Source is where the tensor's bytes are read from: RA, or file.
func (t *Tensor) Source(file io.ReaderAt) io.ReaderAt {
	if t.RA != nil {
		return t.RA
	}
	return file
}
