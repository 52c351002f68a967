package monitor

import (
	"math"
	"sort"
	"sync"
)

// baselineView is the baseline, read once for every detector.
type baselineView struct {
	recs     []*Record
	classes  []string       // labels in first-seen order
	classIdx map[string]int // label -> index; unknown labels map to len(classes)
	labels   []float64      // counts per class, plus one "other" cell
	conf     []float64      // sorted confidences
	ent      []float64      // sorted entropies of probs
	dim      int            // input dimension (0: no inputs)
	X        [][]float64
	y        []int
	hasText  bool

	once sync.Once
	im   *inputModel
}

func newBaselineView(recs []*Record) *baselineView {
	b := &baselineView{recs: recs, classIdx: map[string]int{}}
	dims := map[int]int{}
	for _, r := range recs {
		if r.Label != "" {
			if _, ok := b.classIdx[r.Label]; !ok {
				b.classIdx[r.Label] = len(b.classes)
				b.classes = append(b.classes, r.Label)
			}
		}
		if len(r.Input) > 0 {
			dims[len(r.Input)]++
		}
		if r.Text != nil {
			b.hasText = true
		}
	}
	// Numeric labels sort numerically, so class 0 is cell 0.
	sort.SliceStable(b.classes, func(i, j int) bool { return labelLess(b.classes[i], b.classes[j]) })
	for i, c := range b.classes {
		b.classIdx[c] = i
	}
	b.labels = make([]float64, len(b.classes)+1)
	for _, r := range recs {
		if r.Label != "" {
			b.labels[b.classIdx[r.Label]]++
		}
		if r.hasConfidence() {
			b.conf = append(b.conf, confFeature(r.Confidence))
		}
		if len(r.Probs) > 1 {
			b.ent = append(b.ent, entFeature(r.Probs))
		}
	}
	sort.Float64s(b.conf)
	sort.Float64s(b.ent)
	best := 0
	for d, n := range dims {
		if n > dims[best] || (n == dims[best] && d > best) {
			best = d
		}
	}
	if best > 0 && dims[best] >= 20 {
		b.dim = best
		// The input model fits on at most maxInputRows rows, evenly spread.
		step := max(1, (dims[best]+maxInputRows-1)/maxInputRows)
		i := 0
		for _, r := range recs {
			if len(r.Input) != best {
				continue
			}
			if i%step == 0 {
				b.X = append(b.X, r.Input)
				b.y = append(b.y, b.class(r.Label))
			}
			i++
		}
	}
	return b
}

// maxInputRows bounds the baseline rows the input model is fitted on.
const maxInputRows = 3000

// class maps a label to its cell; "" and unseen labels to the last cell.
func (b *baselineView) class(label string) int {
	if i, ok := b.classIdx[label]; ok {
		return i
	}
	return len(b.classes)
}

// inputModel fits (once) the model of the baseline's inputs.
func (b *baselineView) inputModel() *inputModel {
	if b.dim == 0 {
		return nil
	}
	b.once.Do(func() {
		y := make([]int, len(b.y))
		for i, c := range b.y {
			if c >= len(b.classes) {
				c = -1
			}
			y[i] = c
		}
		b.im = fitInputModel(b.X, y, len(b.classes))
	})
	return b.im
}

func labelLess(a, b string) bool {
	fa, ea := parseNum(a)
	fb, eb := parseNum(b)
	if ea && eb {
		return fa < fb
	}
	if ea != eb {
		return ea
	}
	return a < b
}

func parseNum(s string) (float64, bool) {
	var f float64
	var n int
	for i, c := range s {
		if c < '0' || c > '9' {
			if !(c == '-' && i == 0) {
				return math.NaN(), false
			}
			continue
		}
		f = f*10 + float64(c-'0')
		n++
	}
	if n == 0 {
		return 0, false
	}
	if s[0] == '-' {
		f = -f
	}
	return f, true
}

// scoreRecord scores r's input once; false when r has no usable input.
func (b *baselineView) scoreRecord(r *Record) bool {
	im := b.inputModel()
	if im == nil || len(r.Input) != im.dim {
		return false
	}
	if !r.scored {
		r.inputP, r.far, r.nearest = im.score(r.Input, b.class(r.Label))
		r.scored = true
	}
	return true
}

// Confidences and entropies are compared at a resolution: confidences
// above 0.99999 (entropies below 0.0001 nats) count as equal. Saturated
// outputs differ in their last digits between two samples of the same
// model (float rounding, the log's precision) and a rank test would read
// those digits as a shift.
const (
	confCeil = 1 - 1e-5
	entFloor = 1e-4
)

func confFeature(c float64) float64 { return math.Min(c, confCeil) }

func entFeature(p []float64) float64 { return math.Max(entropy(p), entFloor) }
