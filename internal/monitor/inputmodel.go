package monitor

import (
	"math"
	"slices"
)

// inputModel is what the monitor knows of the baseline's inputs: where
// they lie (a shrunk Mahalanobis distance to their mean), where each
// predicted class lies (distances to the class means under the pooled
// within-class covariance, as in linear discriminant analysis), and how
// often each feature is active (non-zero).
//
// It scores an input three ways:
//   - far: its distance to the baseline (a patch in a corner the baseline
//     never uses);
//   - inconsistent: how much farther it is from the mean of the class it
//     was given than from the nearest class mean (an input that looks like
//     a 7 answered with a 0, whatever the trigger looks like);
//   - rare: the surprisal of its active features that the baseline rarely
//     activates (a word the baseline never used, pixels that are always
//     blank, a blended pattern that lights up every pixel).
//
// Each is turned into a p-value against the same scores of held-out
// baseline rows (5-fold), with an exponential tail beyond the 90th
// percentile, so the threshold is calibrated on data the model did not
// fit. The distances use at most whitenDim dimensions (longer inputs are
// folded), the rarity every feature.
type inputModel struct {
	dim      int // input features
	wdim     int // dimensions of the distances
	classes  int
	mean     []float64
	total    *whitener
	within   *whitener
	cmeansW  [][]float64 // whitened class means (nil: too few rows)
	rarity   []float64   // per feature: surprisal weight when active
	farTail  tail
	incTail  tail
	rarTail  tail
	heldFar  []float64 // sorted held-out far scores (the input-drift reference)
	heldIncs []float64
	heldRar  []float64
}

const (
	// minClassRows is the fewest baseline rows a class needs for its mean.
	minClassRows = 3
	// whitenDim bounds the dimensions of the distances (cost d^2 per input).
	whitenDim = 256
	// rareShare: a feature active in fewer baseline rows than this share
	// counts as rare.
	rareShare = 0.05
	// inputScores is the number of scores combined (Bonferroni).
	inputScores = 3
)

// fitInputModel fits the model on X with labels y in [0, classes) (-1:
// no label) and calibrates it on held-out folds.
func fitInputModel(X [][]float64, y []int, classes int) *inputModel {
	const folds = 5
	var far, inc, rar []float64
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
				a, b, c := m.raw(hx[i], hy[i], nil)
				far, rar = append(far, a), append(rar, c)
				if !math.IsNaN(b) {
					inc = append(inc, b)
				}
			}
		}
	}
	m := fitRaw(X, y, classes)
	slices.Sort(far)
	slices.Sort(inc)
	slices.Sort(rar)
	m.heldFar, m.heldIncs, m.heldRar = far, inc, rar
	m.farTail, m.incTail, m.rarTail = fitTail(far), fitTail(inc), fitTail(rar)
	return m
}

// fold maps x onto at most whitenDim dimensions (i mod whitenDim), into
// dst.
func fold(x, dst []float64) []float64 {
	if len(x) <= whitenDim {
		return x
	}
	clear(dst)
	for i, v := range x {
		dst[i%whitenDim] += v
	}
	return dst
}

func fitRaw(X [][]float64, y []int, classes int) *inputModel {
	m := &inputModel{dim: len(X[0]), classes: classes}
	// Rarity of each feature.
	act := make([]float64, m.dim)
	for _, x := range X {
		for i, v := range x {
			if v != 0 {
				act[i]++
			}
		}
	}
	n := float64(len(X))
	m.rarity = make([]float64, m.dim)
	for i, a := range act {
		m.rarity[i] = math.Max(0, -math.Log((a+0.5)/(n+1))+math.Log(rareShare))
	}
	// Distances, over the folded inputs.
	var F [][]float64
	if m.dim > whitenDim {
		for _, x := range X {
			F = append(F, fold(x, make([]float64, whitenDim)))
		}
	} else {
		F = X
	}
	d := len(F[0])
	m.wdim = d
	m.mean = make([]float64, d)
	for _, x := range F {
		for i, v := range x {
			m.mean[i] += v
		}
	}
	for i := range m.mean {
		m.mean[i] /= n
	}
	res := make([][]float64, len(F))
	for k, x := range F {
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
	for k, x := range F {
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
	for k, x := range F {
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

// raw returns the far score (squared distance to the baseline mean), the
// inconsistency (squared distance to the given class's mean minus that to
// the nearest class mean; NaN when the class has no mean) and the
// rarity. nearest receives the nearest class when not nil.
func (m *inputModel) raw(x []float64, y int, nearest *int) (far, inc, rar float64) {
	for i, v := range x {
		if v != 0 {
			rar += m.rarity[i]
		}
	}
	d := m.wdim
	buf := make([]float64, 3*d)
	r, z, f := buf[:d], buf[d:2*d], buf[2*d:]
	x = fold(x, f)
	for i := 0; i < d; i++ {
		r[i] = x[i] - m.mean[i]
	}
	m.total.whiten(r, z)
	for _, v := range z {
		far += v * v
	}
	inc = math.NaN()
	if m.cmeansW == nil || y < 0 || y >= m.classes || m.cmeansW[y] == nil {
		return far, inc, rar
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
	return far, own - best, rar
}

// score returns the input's p-value (the smallest of its scores'
// p-values, times their number: Bonferroni), its far score and its
// nearest class.
func (m *inputModel) score(x []float64, y int) (p, far float64, nearest int) {
	nearest = -1
	far, inc, rar := m.raw(x, y, &nearest)
	p = m.farTail.p(far)
	if !math.IsNaN(inc) && len(m.heldIncs) > 0 {
		p = math.Min(p, m.incTail.p(inc))
	}
	if rar > 0 {
		p = math.Min(p, m.rarTail.p(rar))
	}
	return math.Min(1, inputScores*p), far, nearest
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
