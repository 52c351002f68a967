package monitor

import "math"

// whitener maps a vector x to L^-1 (x - mean), where L L^T is a
// Ledoit-Wolf shrunk covariance: the squared norm of the result is the
// Mahalanobis distance. Shrinkage keeps the estimate well conditioned
// with fewer rows than dimensions, and keeps directions that never vary
// in the baseline (a corner pixel that is always 0) finitely but
// strongly weighted.
type whitener struct {
	dim int
	l   []float64 // lower-triangular Cholesky factor, row-major d x d
}

// fitWhitener fits the shrunk covariance of rows (already centred by
// the caller: each row is a residual).
func fitWhitener(rows [][]float64, dim int) *whitener {
	n := float64(len(rows))
	s := make([]float64, dim*dim)
	var sumSq4 float64
	for _, x := range rows {
		var sq float64
		for i := 0; i < dim; i++ {
			xi := x[i]
			if xi == 0 {
				continue
			}
			sq += xi * xi
			row := s[i*dim:]
			for j := 0; j <= i; j++ {
				row[j] += xi * x[j]
			}
		}
		sumSq4 += sq * sq
	}
	var tr float64
	for i := 0; i < dim; i++ {
		for j := 0; j <= i; j++ {
			s[i*dim+j] /= n
			s[j*dim+i] = s[i*dim+j]
		}
		tr += s[i*dim+i]
	}
	mu := tr / float64(dim)
	if mu <= 0 {
		mu = 1e-6
	}
	// Ledoit-Wolf: rho = min(1, b^2 / d^2).
	var normS2, d2 float64
	for i := 0; i < dim; i++ {
		for j := 0; j < dim; j++ {
			v := s[i*dim+j]
			normS2 += v * v
			if i == j {
				v -= mu
			}
			d2 += v * v
		}
	}
	b2 := (sumSq4/n - normS2) / n
	rho := 1.0
	if d2 > 0 {
		rho = math.Min(1, math.Max(b2/d2, 0))
	}
	// A floor on the shrinkage keeps near-singular baselines usable.
	rho = math.Max(rho, 0.01)
	for i := 0; i < dim; i++ {
		for j := 0; j < dim; j++ {
			s[i*dim+j] *= 1 - rho
		}
		s[i*dim+i] += rho*mu + 1e-9
	}
	return &whitener{dim: dim, l: cholesky(s, dim)}
}

// cholesky factors a symmetric positive definite matrix in place into
// its lower triangle; a pivot that is not positive is floored.
func cholesky(a []float64, n int) []float64 {
	for j := 0; j < n; j++ {
		d := a[j*n+j]
		for k := 0; k < j; k++ {
			d -= a[j*n+k] * a[j*n+k]
		}
		if d < 1e-12 {
			d = 1e-12
		}
		d = math.Sqrt(d)
		a[j*n+j] = d
		for i := j + 1; i < n; i++ {
			v := a[i*n+j]
			for k := 0; k < j; k++ {
				v -= a[i*n+k] * a[j*n+k]
			}
			a[i*n+j] = v / d
		}
		for i := 0; i < j; i++ {
			a[i*n+j] = 0
		}
	}
	return a
}

// whiten writes L^-1 x into z (forward substitution).
func (w *whitener) whiten(x, z []float64) {
	n := w.dim
	for i := 0; i < n; i++ {
		v := x[i]
		row := w.l[i*n:]
		for k := 0; k < i; k++ {
			v -= row[k] * z[k]
		}
		z[i] = v / row[i]
	}
}
