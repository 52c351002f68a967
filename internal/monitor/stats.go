package monitor

import (
	"math"
	"slices"
)

// The statistics the detectors report. Each is the textbook definition;
// the p-values are exact or standard asymptotic ones, never simulated, so
// a result is reproducible from the counts it reports.

// chiSquareSF is P(X >= x) for X ~ chi-square with k degrees of freedom.
func chiSquareSF(x float64, k int) float64 {
	if k <= 0 || math.IsNaN(x) {
		return math.NaN()
	}
	if x <= 0 {
		return 1
	}
	return gammaQ(float64(k)/2, x/2)
}

// gammaQ is the regularized upper incomplete gamma function Q(a, x).
func gammaQ(a, x float64) float64 {
	if x < a+1 {
		return 1 - gammaPSeries(a, x)
	}
	return gammaQFraction(a, x)
}

func gammaPSeries(a, x float64) float64 {
	lg, _ := math.Lgamma(a)
	sum, term := 1/a, 1/a
	for n := 1; n < 1000; n++ {
		term *= x / (a + float64(n))
		sum += term
		if math.Abs(term) < math.Abs(sum)*1e-15 {
			break
		}
	}
	return sum * math.Exp(-x+a*math.Log(x)-lg)
}

func gammaQFraction(a, x float64) float64 {
	lg, _ := math.Lgamma(a)
	const tiny = 1e-300
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < 1000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-15 {
			break
		}
	}
	return math.Exp(-x+a*math.Log(x)-lg) * h
}

// chiSquareTest is the chi-square test of homogeneity between two count
// vectors over the same categories (a 2 x k contingency table): both are
// samples, so the baseline's own sampling noise is accounted for.
// Categories empty in both are dropped.
func chiSquareTest(a, b []float64) (stat float64, df int, p float64) {
	var na, nb float64
	for i := range a {
		na += a[i]
		nb += b[i]
	}
	if na == 0 || nb == 0 {
		return 0, 0, 1
	}
	n := na + nb
	cats := 0
	for i := range a {
		col := a[i] + b[i]
		if col == 0 {
			continue
		}
		cats++
		ea, eb := na*col/n, nb*col/n
		stat += (a[i]-ea)*(a[i]-ea)/ea + (b[i]-eb)*(b[i]-eb)/eb
	}
	df = cats - 1
	if df < 1 {
		return 0, 0, 1
	}
	return stat, df, chiSquareSF(stat, df)
}

// proportions turns counts into shares, with eps added to every cell so
// that the log-ratio measures stay finite (Evidently does the same).
func proportions(c []float64, eps float64) []float64 {
	var n float64
	for _, v := range c {
		n += v + eps
	}
	p := make([]float64, len(c))
	for i, v := range c {
		p[i] = (v + eps) / n
	}
	return p
}

// psi is the population stability index of actual against expected.
func psi(expected, actual []float64) float64 {
	e, a := proportions(expected, 1e-4), proportions(actual, 1e-4)
	var s float64
	for i := range e {
		s += (a[i] - e[i]) * math.Log(a[i]/e[i])
	}
	return s
}

// jsDistance is the Jensen-Shannon distance (the square root of the
// divergence, base 2, in [0, 1]), as scipy and Evidently report it.
func jsDistance(p1, p2 []float64) float64 {
	a, b := proportions(p1, 0), proportions(p2, 0)
	var d float64
	for i := range a {
		m := (a[i] + b[i]) / 2
		if a[i] > 0 {
			d += a[i] * math.Log2(a[i]/m) / 2
		}
		if b[i] > 0 {
			d += b[i] * math.Log2(b[i]/m) / 2
		}
	}
	return math.Sqrt(math.Max(d, 0))
}

// ksTest is the two-sample Kolmogorov-Smirnov test on sorted samples:
// the statistic D and its asymptotic p-value (Stephens' correction for
// small samples, as in Numerical Recipes).
func ksTest(a, b []float64) (d, p float64) {
	if len(a) == 0 || len(b) == 0 {
		return 0, 1
	}
	i, j := 0, 0
	na, nb := float64(len(a)), float64(len(b))
	for i < len(a) && j < len(b) {
		x := min(a[i], b[j])
		for i < len(a) && a[i] <= x {
			i++
		}
		for j < len(b) && b[j] <= x {
			j++
		}
		d = max(d, math.Abs(float64(i)/na-float64(j)/nb))
	}
	ne := math.Sqrt(na * nb / (na + nb))
	return d, kolmogorovQ((ne + 0.12 + 0.11/ne) * d)
}

// kolmogorovQ is the Kolmogorov distribution's survival function.
func kolmogorovQ(l float64) float64 {
	if l < 0.2 {
		return 1
	}
	var s float64
	sign := 1.0
	for j := 1; j <= 100; j++ {
		t := sign * 2 * math.Exp(-2*float64(j*j)*l*l)
		s += t
		if math.Abs(t) < 1e-16 {
			break
		}
		sign = -sign
	}
	return math.Min(math.Max(s, 0), 1)
}

// wasserstein is the first Wasserstein distance between two sorted
// samples, divided by the baseline's standard deviation (Evidently's
// "normed" variant; a constant baseline uses its absolute distance).
func wasserstein(a, b []float64) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	// Integrate |F_a - F_b| over the merged support.
	var w, prev float64
	i, j := 0, 0
	na, nb := float64(len(a)), float64(len(b))
	first := true
	for i < len(a) || j < len(b) {
		var x float64
		switch {
		case j >= len(b) || (i < len(a) && a[i] <= b[j]):
			x = a[i]
		default:
			x = b[j]
		}
		if !first {
			w += math.Abs(float64(i)/na-float64(j)/nb) * (x - prev)
		}
		first = false
		for i < len(a) && a[i] <= x {
			i++
		}
		for j < len(b) && b[j] <= x {
			j++
		}
		prev = x
	}
	sd := stddev(a)
	if sd <= 1e-9*(math.Abs(a[len(a)/2])+1) {
		return w // a constant baseline: the absolute distance
	}
	return w / sd
}

func stddev(x []float64) float64 {
	if len(x) < 2 {
		return 0
	}
	var m float64
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	var s float64
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return math.Sqrt(s / float64(len(x)-1))
}

// binomialSF is P(X >= k) for X ~ Binomial(n, p).
func binomialSF(k, n int, p float64) float64 {
	if k <= 0 {
		return 1
	}
	if k > n || p <= 0 {
		return 0
	}
	if p >= 1 {
		return 1
	}
	// Sum the upper tail in log space from k; terms fall fast past the mean.
	lp, lq := math.Log(p), math.Log1p(-p)
	var s float64
	for i := k; i <= n; i++ {
		t := math.Exp(lchoose(n, i) + float64(i)*lp + float64(n-i)*lq)
		s += t
		if float64(i) > float64(n)*p && t < s*1e-17 {
			break
		}
	}
	return math.Min(s, 1)
}

func lchoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// binomialCritical is the smallest k with P(X >= k) < alpha.
func binomialCritical(n int, p, alpha float64) int {
	for k := 0; k <= n; k++ {
		if binomialSF(k, n, p) < alpha {
			return k
		}
	}
	return n + 1
}

// quantile of a sorted sample (linear interpolation).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i]*(1-f) + sorted[i+1]*f
}

func sortedCopy(x []float64) []float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	return s
}

// entropy of a probability vector, in nats.
func entropy(p []float64) float64 {
	var h, s float64
	for _, v := range p {
		if v > 0 {
			s += v
		}
	}
	if s == 0 {
		return 0
	}
	for _, v := range p {
		if v > 0 {
			q := v / s
			h -= q * math.Log(q)
		}
	}
	return h
}
