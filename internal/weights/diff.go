package weights

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// Source is one model's tensors and where to read them.
type Source struct {
	RA      io.ReaderAt
	Tensors []analyzer.Tensor
}

// TensorDiff is how one tensor differs between two models.
type TensorDiff struct {
	Name   string
	Status string // "changed", "same", "added", "removed", "reshaped"
	N      int64  // elements (bytes for non-float tensors)
	// Changed is how many elements differ; RelL2 is ||b-a|| / ||a||;
	// MaxAbs the largest |b-a|.
	Changed int64
	RelL2   float64
	MaxAbs  float64
	sumD2   float64
	sumA2   float64
}

// Diff compares every tensor two models share.
type Diff struct {
	Tensors []TensorDiff
}

// Compare streams both models' tensors and measures their differences,
// in parallel over chunks on the cores cpu grants (nil: every core).
func Compare(ctx context.Context, cpu *analyzer.CPU, a, b Source) (*Diff, error) {
	ia := map[string]analyzer.Tensor{}
	for _, t := range a.Tensors {
		ia[t.Name] = t
	}
	ib := map[string]analyzer.Tensor{}
	for _, t := range b.Tensors {
		ib[t.Name] = t
	}
	d := &Diff{}
	type pair struct {
		i    int
		x, y analyzer.Tensor
	}
	var pairs []pair
	for _, t := range a.Tensors {
		u, ok := ib[t.Name]
		switch {
		case !ok:
			d.Tensors = append(d.Tensors, TensorDiff{Name: t.Name, Status: "removed"})
		case u.DType != t.DType || u.Size != t.Size || !sameShape(t.Shape, u.Shape):
			d.Tensors = append(d.Tensors, TensorDiff{Name: t.Name, Status: "reshaped"})
		default:
			d.Tensors = append(d.Tensors, TensorDiff{Name: t.Name, Status: "same"})
			pairs = append(pairs, pair{len(d.Tensors) - 1, t, u})
		}
	}
	for _, t := range b.Tensors {
		if _, ok := ia[t.Name]; !ok {
			d.Tensors = append(d.Tensors, TensorDiff{Name: t.Name, Status: "added"})
		}
	}
	type task struct {
		p       pair
		off, n  int64
		partial TensorDiff
	}
	var tasks []*task
	for _, p := range pairs {
		for off := int64(0); off < p.x.Size; off += chunkSize {
			tasks = append(tasks, &task{p: p, off: off, n: min(int64(chunkSize), p.x.Size-off)})
		}
	}
	type scratch struct{ x, y []byte }
	err := parallel(ctx, cpu, len(tasks), func() *scratch { return &scratch{make([]byte, chunkSize), make([]byte, chunkSize)} }, func(k int, sc *scratch) error {
		tk := tasks[k]
		x, y := sc.x[:tk.n], sc.y[:tk.n]
		if _, err := tk.p.x.Source(a.RA).ReadAt(x, tk.p.x.Offset+tk.off); err != nil {
			return fmt.Errorf("reading tensor %s: %w", tk.p.x.Name, err)
		}
		if _, err := tk.p.y.Source(b.RA).ReadAt(y, tk.p.y.Offset+tk.off); err != nil {
			return fmt.Errorf("reading tensor %s: %w", tk.p.y.Name, err)
		}
		compareChunk(&tk.partial, tk.p.x.DType, x, y)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, tk := range tasks {
		td := &d.Tensors[tk.p.i]
		td.N += tk.partial.N
		td.Changed += tk.partial.Changed
		td.sumD2 += tk.partial.sumD2
		td.sumA2 += tk.partial.sumA2
		td.MaxAbs = math.Max(td.MaxAbs, tk.partial.MaxAbs)
	}
	for i := range d.Tensors {
		td := &d.Tensors[i]
		if td.Status != "same" {
			continue
		}
		if td.Changed > 0 {
			td.Status = "changed"
		}
		if td.sumA2 > 0 {
			td.RelL2 = math.Sqrt(td.sumD2 / td.sumA2)
		} else if td.sumD2 > 0 {
			td.RelL2 = math.Inf(1)
		}
	}
	return d, nil
}

func sameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func compareChunk(td *TensorDiff, dt analyzer.DType, x, y []byte) {
	size := dt.Size()
	if size == 0 {
		size = 1
	}
	for i := 0; i+size <= len(x); i += size {
		td.N++
		var fa, fb float64
		switch dt {
		case analyzer.F32:
			fa = float64(math.Float32frombits(binary.LittleEndian.Uint32(x[i:])))
			fb = float64(math.Float32frombits(binary.LittleEndian.Uint32(y[i:])))
		case analyzer.F16:
			tab := f16()
			fa, fb = float64(tab[binary.LittleEndian.Uint16(x[i:])]), float64(tab[binary.LittleEndian.Uint16(y[i:])])
		case analyzer.BF16:
			fa = float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(x[i:])) << 16))
			fb = float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(y[i:])) << 16))
		case analyzer.F64:
			fa = math.Float64frombits(binary.LittleEndian.Uint64(x[i:]))
			fb = math.Float64frombits(binary.LittleEndian.Uint64(y[i:]))
		default:
			fa, fb = float64(x[i]), float64(y[i])
		}
		if fa == fb || math.IsNaN(fa) && math.IsNaN(fb) {
			td.sumA2 += fa * fa
			continue
		}
		td.Changed++
		dd := fb - fa
		if math.IsNaN(dd) || math.IsInf(dd, 0) {
			td.MaxAbs = math.Inf(1)
			continue
		}
		td.sumD2 += dd * dd
		td.sumA2 += fa * fa
		td.MaxAbs = math.Max(td.MaxAbs, math.Abs(dd))
	}
}

// Thresholds for the tampering pattern: fine-tuning changes most elements
// of most tensors; a targeted edit changes a few tensors, or a sliver of
// one, sharply.
const (
	fewTensors    = 0.10 // at most this share of tensors changed
	sliver        = 0.01 // at most this share of a tensor's elements changed
	minSliverSize = 1024 // tensors smaller than this are not judged for slivers
	unrelated     = 0.5  // under this share of tensors in common, the models are different models
)

// Findings summarises the diff: an info finding per changed tensor (the
// 20 largest changes) and a suspicious finding when the changes look like
// a targeted edit rather than training.
func (d *Diff) Findings(loc string) ([]report.Finding, map[string]string) {
	var changed, common, added, removed, reshaped int
	var ch []TensorDiff
	for _, t := range d.Tensors {
		switch t.Status {
		case "changed":
			changed++
			common++
			ch = append(ch, t)
		case "same":
			common++
		case "added":
			added++
		case "removed":
			removed++
		case "reshaped":
			reshaped++
		}
	}
	props := map[string]string{
		"diff.tensors_common": fmt.Sprint(common), "diff.tensors_changed": fmt.Sprint(changed),
		"diff.tensors_added": fmt.Sprint(added), "diff.tensors_removed": fmt.Sprint(removed), "diff.tensors_reshaped": fmt.Sprint(reshaped),
	}
	sort.Slice(ch, func(i, j int) bool { return ch[i].RelL2 > ch[j].RelL2 })
	var fs []report.Finding
	for i, t := range ch {
		if i == 20 {
			break
		}
		fs = append(fs, rules.New(rules.WeightsDiffTensor, loc, fmt.Sprintf("tensor %s: %d of %d elements changed (%.3g%%), relative L2 change %.3g, max |change| %.3g", t.Name, t.Changed, t.N, 100*float64(t.Changed)/float64(max(1, t.N)), t.RelL2, t.MaxAbs)))
	}
	var slivers []string
	for _, t := range ch {
		if t.N >= minSliverSize && float64(t.Changed) < sliver*float64(t.N) {
			slivers = append(slivers, fmt.Sprintf("%s (%d of %d elements)", t.Name, t.Changed, t.N))
		}
	}
	switch total := common + added + removed + reshaped; {
	case total > 0 && float64(common) < unrelated*float64(total):
		fs = append(fs, rules.New(rules.WeightsDiffUnrelated, loc, fmt.Sprintf("only %d of %d tensors have the same name, dtype and shape in both models (%d added, %d removed, %d reshaped): not a variant of the base", common, total, added, removed, reshaped)))
	case added+removed+reshaped > 0:
		fs = append(fs, rules.New(rules.WeightsDiffArchitecture, loc, fmt.Sprintf("%d tensors added, %d removed, %d reshaped relative to the base (%d shared)", added, removed, reshaped, common)))
	}
	targeted := changed > 0 && common >= 10 && float64(changed) <= fewTensors*float64(common)
	if targeted || len(slivers) > 0 {
		msg := ""
		if targeted {
			msg = fmt.Sprintf("only %d of %d shared tensors changed", changed, common)
		}
		if len(slivers) > 0 {
			if msg != "" {
				msg += "; "
			}
			if len(slivers) > 5 {
				slivers = append(slivers[:5], "...")
			}
			msg += "tensors edited in a sliver of their elements: " + fmt.Sprint(slivers)
		}
		fs = append([]report.Finding{rules.New(rules.WeightsDiffTargeted, loc, msg)}, fs...)
	}
	return fs, props
}
