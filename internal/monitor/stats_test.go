package monitor

import (
	"math"
	"testing"
)

// Reference values from scipy.stats (chi2.sf, binom.sf, ks_2samp,
// wasserstein_distance) and scipy.spatial.distance.jensenshannon.
func TestStats_AgreeWithSciPy(t *testing.T) {
	near := func(name string, got, want, rel float64) {
		t.Helper()
		if math.Abs(got-want) > rel*math.Abs(want) {
			t.Errorf("%s = %.6g, want %.6g", name, got, want)
		}
	}
	near("chi2.sf(10, 5)", chiSquareSF(10, 5), 0.07523524614651217, 1e-9)
	near("chi2.sf(3.2, 1)", chiSquareSF(3.2, 1), 0.07363827012030258, 1e-9)
	near("chi2.sf(150, 9)", chiSquareSF(150, 9), 8.819629954805395e-28, 1e-6)
	near("binom.sf(4, 200, 0.001)", binomialSF(5, 200, 0.001), 2.1560164186571525e-06, 1e-6)
	near("binom.sf(9, 200, 0.01)", binomialSF(10, 200, 0.01), 4.014180884713425e-05, 1e-6)
	near("jensenshannon", jsDistance([]float64{10, 20, 30}, []float64{30, 20, 10}), 0.354703515198132, 1e-9)
	var a, b []float64
	for i := 0; i < 100; i++ {
		a = append(a, float64(i))
		b = append(b, float64(i+10))
	}
	d, p := ksTest(a, b)
	near("ks D", d, 0.1, 1e-9)
	near("ks p (asymptotic vs exact)", p, 0.702, 0.08)
	near("wasserstein normed", wasserstein(a, b), 0.34469099377285467, 1e-6)
	if k := binomialCritical(200, 0.001, 1e-5); binomialSF(k, 200, 0.001) >= 1e-5 || binomialSF(k-1, 200, 0.001) < 1e-5 {
		t.Errorf("binomialCritical = %d is not the smallest count below the level", k)
	}
}

func TestChiSquareTest_IdenticalMixesDoNotDiffer(t *testing.T) {
	_, _, p := chiSquareTest([]float64{30, 30, 40}, []float64{60, 60, 80})
	if p < 0.99 {
		t.Errorf("p = %g for proportional counts, want ~1", p)
	}
	_, _, p = chiSquareTest([]float64{30, 30, 40}, []float64{10, 10, 180})
	if p > 1e-10 {
		t.Errorf("p = %g for a large shift, want tiny", p)
	}
}
