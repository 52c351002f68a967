package monitor

import (
	"fmt"
	"strings"
	"testing"
)

// Every detector fires where it should and stays quiet on clean traffic
// from the baseline's distribution over many windows.

const cleanWindows = 10

func cleanAlerts(t *testing.T, seed uint64) []Alert {
	base := newSynth(seed).take(300)
	s := newSynth(seed + 1000)
	return run(t, base, s.take(cleanWindows*200), Config{})
}

func TestDetectors_QuietOnCleanTrafficOverTenWindows(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		if a := cleanAlerts(t, seed); len(a) > 0 {
			t.Errorf("seed %d: %d alert(s) on clean traffic, first: %s: %s", seed, len(a), a[0].Detector, a[0].Message)
		}
	}
}

func TestLabelDrift_FiresOnAShiftedLabelMix(t *testing.T) {
	base := newSynth(1).take(300)
	s := newSynth(2)
	s.weights = []float64{4, 1, 1, 1, 1}
	a := byDetector(run(t, base, s.take(400), Config{}), "label-drift")
	if len(a) == 0 {
		t.Fatal("no label-drift alert")
	}
	if a[0].P == nil || *a[0].P >= 5e-5 || a[0].Statistic != "chi-square" {
		t.Errorf("alert lacks its test: %+v", a[0])
	}
	for _, k := range []string{"psi", "js"} {
		if _, ok := a[0].Evidence.Details[k]; !ok {
			t.Errorf("alert does not report %s", k)
		}
	}
}

func TestLabelDrift_LargeWindowsUseJensenShannon(t *testing.T) {
	base := newSynth(1).take(300)
	s := newSynth(2)
	s.weights = []float64{4, 1, 1, 1, 1}
	a := byDetector(run(t, base, s.take(3000), Config{Window: 1500}), "label-drift")
	if len(a) == 0 || a[0].Statistic != "jensen-shannon" || a[0].Threshold != 0.1 {
		t.Fatalf("want a JS alert at 0.1 on windows of 1,500, got %+v", a)
	}
	quiet := byDetector(run(t, base, newSynth(3).take(3000), Config{Window: 1500}), "label-drift")
	if len(quiet) > 0 {
		t.Errorf("JS alert on clean large windows: %s", quiet[0].Message)
	}
}

func TestConfidenceAndEntropyDrift_FireOnACalibrationChange(t *testing.T) {
	base := newSynth(1).take(300)
	s := newSynth(2)
	s.sharp = 0.5 // a less confident model
	alerts := run(t, base, s.take(400), Config{})
	for _, d := range []string{"confidence-drift", "entropy-drift"} {
		a := byDetector(alerts, d)
		if len(a) == 0 {
			t.Errorf("no %s alert", d)
			continue
		}
		if a[0].Statistic != "ks" || a[0].P == nil || a[0].Evidence.Details["wasserstein_normed"] == nil {
			t.Errorf("%s alert lacks KS, p-value or Wasserstein: %+v", d, a[0])
		}
	}
}

func TestInputDrift_FiresWhenInputsMoveAway(t *testing.T) {
	base := newSynth(1).take(300)
	s := newSynth(2)
	s.shift = make([]float64, s.d)
	for i := range s.shift {
		s.shift[i] = 1.5
	}
	if a := byDetector(run(t, base, s.take(400), Config{}), "input-drift"); len(a) == 0 {
		t.Fatal("no input-drift alert")
	}
}

func TestSwap_FiresOnCalibrationChangeWithUnchangedInputs(t *testing.T) {
	base := newSynth(1).take(300)
	s := newSynth(2)
	s.sharp = 0.5
	a := byDetector(run(t, base, s.take(400), Config{}), "swap")
	if len(a) == 0 {
		t.Fatal("no swap alert")
	}
	if a[0].Kind != KindSwap || a[0].Evidence.Details["input_distance_p"] == nil {
		t.Errorf("swap alert lacks the input check: %+v", a[0])
	}
}

func TestSwap_QuietWhenTheInputsMoved(t *testing.T) {
	// Outputs change because inputs changed: drift, not a swap.
	base := newSynth(1).take(300)
	s := newSynth(2)
	s.shift = make([]float64, s.d)
	for i := range s.shift {
		s.shift[i] = 1.5
	}
	alerts := run(t, base, s.take(400), Config{})
	if a := byDetector(alerts, "swap"); len(a) > 0 {
		t.Errorf("swap alert while inputs drifted: %s", a[0].Message)
	}
}

func TestTrigger_FiresWithin200RequestsForPatchAndBlend(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trigger func([]float64)
		rate    float64
	}{
		{"patch 5%", patch, 0.05},
		{"patch 15%", patch, 0.15},
		{"blend 10%", blend, 0.10},
		{"blend 25%", blend, 0.25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 3; seed++ {
				base := newSynth(seed).take(300)
				s := newSynth(seed + 100)
				clean := s.take(150)
				s.trigRate, s.target, s.trigger = tc.rate, 2, tc.trigger
				attack := s.take(400)
				alerts := byDetector(run(t, base, append(clean, attack...), Config{}), "trigger")
				if len(alerts) == 0 {
					t.Fatalf("seed %d: no trigger alert", seed)
				}
				a := alerts[0]
				if delay := a.Seq - 150; delay < 0 || delay > 200 {
					t.Errorf("seed %d: trigger alert at request %d, %d after the attack began", seed, a.Seq, delay)
				}
				if a.Key != "2" || a.P == nil || a.Value < a.Threshold || len(a.Evidence.RequestIDs) == 0 {
					t.Errorf("seed %d: alert does not name the target with its evidence: %+v", seed, a)
				}
			}
		})
	}
}

func TestTrigger_ReportsTheSharedPattern(t *testing.T) {
	base := newSynth(1).take(300)
	s := newSynth(2)
	s.trigRate, s.target, s.trigger = 0.2, 1, patch
	a := byDetector(run(t, base, s.take(300), Config{}), "trigger")
	if len(a) == 0 {
		t.Fatal("no trigger alert")
	}
	pat, _ := a[0].Evidence.Details["shared_pattern"].([]map[string]any)
	if len(pat) < 3 {
		t.Fatalf("no pattern: %v", a[0].Evidence.Details)
	}
	got := map[int]bool{}
	for _, f := range pat[:3] {
		got[f["feature"].(int)] = true
	}
	if !got[0] || !got[1] || !got[2] {
		t.Errorf("the pattern's top features are %v, want the patch's 0, 1 and 2", pat[:3])
	}
	if c := a[0].Evidence.Details["pattern_coherence"].(float64); c < 0.5 {
		t.Errorf("pattern coherence %.2f, want high for a shared trigger", c)
	}
}

func TestFingerprint_FiresOnANewModelName(t *testing.T) {
	base := newSynth(1).take(300)
	s := newSynth(2)
	traffic := s.take(100)
	s.model = "synth-v2"
	traffic = append(traffic, s.take(50)...)
	a := byDetector(run(t, base, traffic, Config{}), "fingerprint")
	if len(a) != 1 {
		t.Fatalf("want one (de-duplicated) fingerprint alert, got %d", len(a))
	}
	if a[0].Seq != 101 || !strings.Contains(a[0].Message, "synth-v2") {
		t.Errorf("alert %+v", a[0])
	}
}

func TestCanary_FiresOnAnyDifferenceAndNotOnTheSameAnswer(t *testing.T) {
	base := newSynth(1).take(300)
	conf := 0.99
	cfg := Config{Canaries: map[string]Expect{"zero": {Label: "0", Confidence: &conf}}}
	same := &Record{Canary: "zero", Label: "0", Confidence: 0.9904}
	if a := byDetector(run(t, base, []*Record{same}, Config{Canaries: cfg.Canaries, CanaryTolerance: 0.01}), "canary"); len(a) > 0 {
		t.Errorf("alert on an answer within tolerance: %s", a[0].Message)
	}
	other := &Record{Canary: "zero", Label: "3", Confidence: 0.99}
	if a := byDetector(run(t, base, []*Record{other}, cfg), "canary"); len(a) != 1 || !strings.Contains(a[0].Message, "label 3") {
		t.Errorf("want one canary alert naming the label, got %+v", a)
	}
	// Without an expectation, the first answer is pinned.
	first := &Record{Canary: "pinned", Label: "1", Confidence: 0.8, Probs: []float64{0.2, 0.8}}
	second := &Record{Canary: "pinned", Label: "1", Confidence: 0.7, Probs: []float64{0.3, 0.7}}
	if a := byDetector(run(t, base, []*Record{first, second}, Config{}), "canary"); len(a) != 1 {
		t.Errorf("want a pinned-canary alert, got %d", len(a))
	}
}

func TestAlerts_HoldNoContentUnlessAllowed(t *testing.T) {
	base := llmTraffic(300, 1, false, "")
	traffic := llmTraffic(300, 2, false, "https://evil.example/x")
	for _, allow := range []bool{false, true} {
		a := byDetector(run(t, base, traffic, Config{AllowContent: allow}), "llm-tokens")
		if len(a) == 0 {
			t.Fatal("no token alert")
		}
		s := fmt.Sprintf("%+v", a)
		if got := strings.Contains(s, "evil.example"); got != allow {
			t.Errorf("AllowContent=%v: alert quotes the URL: %v\n%s", allow, got, s)
		}
	}
}
