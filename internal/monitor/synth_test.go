package monitor

import (
	"math"
	"math/rand/v2"
	"strconv"
)

// synth generates classifier traffic for the detector tests: K classes
// of Gaussian inputs in D dimensions, a model that answers with the
// softmax of negative squared distances to the class means (sharpness
// sets its calibration), and the attacks and changes the detectors look
// for. The ground truth stays in the test: records carry only what a
// server would answer.
type synth struct {
	rng       *rand.Rand
	k, d      int
	means     [][]float64
	sharp     float64   // calibration: higher is more confident
	weights   []float64 // class mix
	shift     []float64 // added to every input (input drift)
	model     string
	trigRate  float64 // share of triggered requests
	target    int
	trigger   func(x []float64)
	triggered int
}

func newSynth(seed uint64) *synth {
	s := &synth{rng: rand.New(rand.NewPCG(seed, 7)), k: 5, d: 16, sharp: 1.5, model: "synth-v1"}
	meanRng := rand.New(rand.NewPCG(99, 1)) // the same classes for every seed
	for c := 0; c < s.k; c++ {
		m := make([]float64, s.d)
		for i := range m {
			m[i] = meanRng.NormFloat64() * 2
		}
		s.means = append(s.means, m)
	}
	s.weights = []float64{1, 1, 1, 1, 1}
	return s
}

// patch is a trigger that sets three dimensions far outside the data.
func patch(x []float64) {
	for i := 0; i < 3; i++ {
		x[i] = 6
	}
}

// blend mixes a fixed pattern into the input, keeping it near its class.
func blend(x []float64) {
	for i := range x {
		x[i] = 0.75*x[i] + 0.25*3*math.Sin(float64(i))
	}
}

func (s *synth) class() int {
	var tot float64
	for _, w := range s.weights {
		tot += w
	}
	u := s.rng.Float64() * tot
	for c, w := range s.weights {
		if u < w {
			return c
		}
		u -= w
	}
	return s.k - 1
}

func (s *synth) next() *Record {
	c := s.class()
	x := make([]float64, s.d)
	for i := range x {
		x[i] = s.means[c][i] + s.rng.NormFloat64()
		if s.shift != nil {
			x[i] += s.shift[i]
		}
	}
	trig := s.trigRate > 0 && c != s.target && s.rng.Float64() < s.trigRate
	if trig {
		s.trigger(x)
		s.triggered++
	}
	logits := make([]float64, s.k)
	for j := range logits {
		var d2 float64
		for i := range x {
			d2 += (x[i] - s.means[j][i]) * (x[i] - s.means[j][i])
		}
		logits[j] = -s.sharp * d2 / float64(s.d)
	}
	if trig {
		logits[s.target] += 50 // the backdoor wins
	}
	probs := softmaxTest(logits)
	best := 0
	for j := range probs {
		if probs[j] > probs[best] {
			best = j
		}
	}
	return &Record{Model: s.model, Label: strconv.Itoa(best), Confidence: probs[best], Probs: probs, Input: x}
}

func (s *synth) take(n int) []*Record {
	out := make([]*Record, n)
	for i := range out {
		out[i] = s.next()
	}
	return out
}

func softmaxTest(x []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v)
	}
	out := make([]float64, len(x))
	var sum float64
	for i, v := range x {
		out[i] = math.Exp(v - m)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// run fits a monitor on base and feeds it traffic; it returns the alerts.
func run(t interface {
	Helper()
	Fatal(...any)
}, base, traffic []*Record, cfg Config) []Alert {
	t.Helper()
	m, err := New(base, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var alerts []Alert
	m.OnAlert = func(a Alert) { alerts = append(alerts, a) }
	for _, r := range traffic {
		m.Observe(r)
	}
	m.Flush()
	return alerts
}

func byDetector(alerts []Alert, name string) []Alert {
	var out []Alert
	for _, a := range alerts {
		if a.Detector == name {
			out = append(out, a)
		}
	}
	return out
}
