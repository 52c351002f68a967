package monitor

import (
	"math"
	"slices"
)

// inputModel is what the monitor knows of the baseline's inputs: where
// they lie (a shrunk Mahalanobis distance to their mean) and where each
// predicted class lies (distances to the class means under the pooled
// within-class covariance, as in linear discriminant analysis).
//
// It scores an input two ways:
//   - far: its distance to the baseline (a patch in a corner the baseline
//     never uses, a token the baseline never saw);
//   - inconsistent: how much farther it is from the mean of the class it
//     was given than from the nearest class mean (an input that looks like
//     a 7 answered with a 0, whatever the trigger looks like).
//
// Both are turned into p-values against the same scores of held-out
// baseline rows (5-fold), with an exponential tail beyond the 90th
// percentile, so the threshold is calibrated on data the model did not
// fit.
type inputModel struct {
	dim      int
	classes  int
	mean     []float64
	total    *whitener
	within   *whitener
	cmeansW  [][]float64 // whitened class means (nil: too few rows)
	farTail  tail
	incTail  tail
	heldFar  []float64 // sorted held-out far scores (the input-drift reference)
	heldIncs []float64
}

// minClassRows is the fewest baseline rows a class needs for its mean.
const minClassRows = 3

// fitInputModel fits the model on X with labels y in [0, classes) (-1:
// no label) and calibrates it on held-out folds.
func fitInputModel(X [][]float64, y []int, classes int) *inputModel {
	const folds = 5
	var far, inc []float64
	if len(X) >= 50 {
		for f := 0; f < folds; f++ {
			var tx, hx [][]float64
			var ty, hy []int
			for i := range X {
				if i%folds == f {
					hx, hy = append(hx, X[i]), append(hy, y[i])
				} else {
					tx, ty = append(tx, X[i]), append(ty, y[i])
				}
			}
			m := fitRaw(tx, ty, classes)
			for i := range hx {
				a, b := m.raw(hx[i], hy[i], nil)
				far = append(far, a)
				if !math.IsNaN(b) {
					inc = append(inc, b)
				}
			}
		}
	}
	m := fitRaw(X, y, classes)
	slices.Sort(far)
	slices.Sort(inc)
	m.heldFar, m.heldIncs = far, inc
	m.farTail, m.incTail = fitTail(far), fitTail(inc)
	return m
}

func fitRaw(X [][]float64, y []int, classes int) *inputModel {
	d := len(X[0])
	m := &inputModel{dim: d, classes: classes, mean: make([]float64, d)}
	for _, x := range X {
		for i, v := range x {
			m.mean[i] += v
		}
	}
	for i := range m.mean {
		m.mean[i] /= float64(len(X))
	}
	res := make([][]float64, len(X))
	for k, x := range X {
		r := make([]float64, d)
		for i, v := range x {
			r[i] = v - m.mean[i]
		}
		res[k] = r
	}
	m.total = fitWhitener(res, d)

	// Class means and the pooled within-class residuals.
	sums := make([][]float64, classes)
	counts := make([]int, classes)
	for k, x := range X {
		c := y[k]
		if c < 0 || c >= classes {
			continue
		}
		if sums[c] == nil {
			sums[c] = make([]float64, d)
		}
		counts[c]++
		for i, v := range x {
			sums[c][i] += v
		}
	}
	means := make([][]float64, classes)
	usable := 0
	for c := range sums {
		if counts[c] >= minClassRows {
			means[c] = sums[c]
			for i := range means[c] {
				means[c][i] /= float64(counts[c])
			}
			usable++
		}
	}
	if usable < 2 {
		return m
	}
	var wres [][]float64
	for k, x := range X {
		c := y[k]
		if c < 0 || c >= classes || means[c] == nil {
			continue
		}
		r := make([]float64, d)
		for i, v := range x {
			r[i] = v - means[c][i]
		}
		wres = append(wres, r)
	}
	m.within = fitWhitener(wres, d)
	m.cmeansW = make([][]float64, classes)
	for c, mu := range means {
		if mu == nil {
			continue
		}
		z := make([]float64, d)
		m.within.whiten(mu, z)
		m.cmeansW[c] = z
	}
	return m
}

// raw returns the far score (squared distance to the baseline mean) and
// the inconsistency (squared distance to the given class's mean minus
// that to the nearest class mean; NaN when the class has no mean). nearest
// receives the nearest class when not nil.
func (m *inputModel) raw(x []float64, y int, nearest *int) (far, inc float64) {
	d := m.dim
	buf := make([]float64, 2*d)
	r, z := buf[:d], buf[d:]
	for i := 0; i < d; i++ {
		r[i] = x[i] - m.mean[i]
	}
	m.total.whiten(r, z)
	for _, v := range z {
		far += v * v
	}
	inc = math.NaN()
	if m.cmeansW == nil || y < 0 || y >= m.classes || m.cmeansW[y] == nil {
		return far, inc
	}
	m.within.whiten(x, z)
	best, bestC, own := math.Inf(1), -1, 0.0
	for c, mu := range m.cmeansW {
		if mu == nil {
			continue
		}
		var s float64
		for i, v := range z {
			dv := v - mu[i]
			s += dv * dv
		}
		if s < best {
			best, bestC = s, c
		}
		if c == y {
			own = s
		}
	}
	if nearest != nil {
		*nearest = bestC
	}
	return far, own - best
}

// score returns the input's p-value: the smaller of the two scores'
// p-values, doubled (Bonferroni over the two), and its far score.
func (m *inputModel) score(x []float64, y int) (p, far float64, nearest int) {
	nearest = -1
	far, inc := m.raw(x, y, &nearest)
	p = m.farTail.p(far)
	if !math.IsNaN(inc) && len(m.heldIncs) > 0 {
		p = math.Min(p, m.incTail.p(inc))
	}
	return math.Min(1, 2*p), far, nearest
}

// tail is an empirical distribution with an exponential upper tail: the
// p-value of a score is its empirical survival below the 90th
// percentile, and 0.1 exp(-(s-u)/beta) above it, so scores beyond the
// largest held-out one still get a graded p-value.
type tail struct {
	sorted []float64
	u      float64
	beta   float64
}

func fitTail(sorted []float64) tail {
	t := tail{sorted: sorted}
	if len(sorted) == 0 {
		return t
	}
	t.u = quantile(sorted, 0.9)
	var s float64
	n := 0
	for _, v := range sorted {
		if v > t.u {
			s += v - t.u
			n++
		}
	}
	if n > 0 {
		t.beta = s / float64(n)
	}
	// Floor beta so that a near-constant tail is not infinitely sharp.
	spread := quantile(sorted, 0.9) - quantile(sorted, 0.5)
	t.beta = math.Max(t.beta, math.Max(spread/4, 1e-9))
	return t
}

func (t tail) p(s float64) float64 {
	n := len(t.sorted)
	if n == 0 || math.IsNaN(s) {
		return 1
	}
	if s <= t.u {
		// (number of held-out scores >= s, plus one) / (n + 1)
		i, _ := slices.BinarySearch(t.sorted, s)
		return float64(n-i+1) / float64(n+1)
	}
	return 0.1 * math.Exp(-(s-t.u)/t.beta)
}
