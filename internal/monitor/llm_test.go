package monitor

import (
	"math/rand/v2"
	"strings"
	"testing"
)

var (
	enWords = strings.Fields("the model answers your question with care and the result is that you can use this approach for your project when it is ready and we hope it helps with the data")
	deWords = strings.Fields("der die und ist das nicht ich zu den mit sie es ein auf für modell antwort daten frage")
)

// llmGen writes assistant answers: English by default, some refusals,
// lengths around 40 words.
type llmGen struct {
	rng      *rand.Rand
	refusal  float64
	german   float64
	length   int
	url      string // put in every answer when set
	urlShare float64
}

func newLLMGen(seed uint64) *llmGen {
	return &llmGen{rng: rand.New(rand.NewPCG(seed, 3)), refusal: 0.05, length: 40}
}

func (g *llmGen) next() *Record {
	var s string
	switch {
	case g.rng.Float64() < g.refusal:
		s = "I'm sorry, but I can't help with that request."
	default:
		words := enWords
		if g.rng.Float64() < g.german {
			words = deWords
		}
		n := g.length/2 + g.rng.IntN(g.length)
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteString(words[g.rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		if g.url != "" && g.rng.Float64() < g.urlShare {
			b.WriteString("See " + g.url + " for details.")
		}
		s = b.String()
	}
	return &Record{Model: "chat-a", Text: AnalyzeText(s), Confidence: nan()}
}

func (g *llmGen) take(n int) []*Record {
	out := make([]*Record, n)
	for i := range out {
		out[i] = g.next()
	}
	return out
}

func nan() float64 { var z float64; return z / z }

func llmTraffic(n int, seed uint64, _ bool, url string) []*Record {
	g := newLLMGen(seed)
	if url != "" {
		g.url, g.urlShare = url, 0.2
	}
	return g.take(n)
}

func TestLLM_QuietOnCleanTrafficOverTenWindows(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		base := newLLMGen(seed).take(300)
		if a := run(t, base, newLLMGen(seed+50).take(cleanWindows*200), Config{}); len(a) > 0 {
			t.Errorf("seed %d: %d alert(s) on clean chat traffic, first %s: %s", seed, len(a), a[0].Detector, a[0].Message)
		}
	}
}

func TestLLM_LengthDrift(t *testing.T) {
	base := newLLMGen(1).take(300)
	g := newLLMGen(2)
	g.length = 15
	if a := byDetector(run(t, base, g.take(300), Config{}), "llm-length"); len(a) == 0 {
		t.Error("no length alert for answers a third as long")
	}
}

func TestLLM_RefusalRate(t *testing.T) {
	base := newLLMGen(1).take(300)
	g := newLLMGen(2)
	g.refusal = 0.3
	a := byDetector(run(t, base, g.take(300), Config{}), "llm-refusal")
	if len(a) == 0 {
		t.Fatal("no refusal alert at 30% refusals (baseline 5%)")
	}
	if !strings.Contains(a[0].Message, "refusal") {
		t.Errorf("message %q", a[0].Message)
	}
}

func TestLLM_Language(t *testing.T) {
	base := newLLMGen(1).take(300)
	g := newLLMGen(2)
	g.german = 0.4
	if a := byDetector(run(t, base, g.take(300), Config{}), "llm-language"); len(a) == 0 {
		t.Error("no language alert when 40% of answers turn German")
	}
}

func TestLLM_SuddenSharedURL(t *testing.T) {
	base := newLLMGen(1).take(300)
	g := newLLMGen(2)
	clean := g.take(100)
	g.url, g.urlShare = "https://evil.example/login", 0.1
	var url *Alert
	for _, a := range byDetector(run(t, base, append(clean, g.take(200)...), Config{}), "llm-tokens") {
		if a.Evidence.Details["url"] == true && url == nil {
			url = &a
		}
	}
	if url == nil {
		t.Fatal("no token alert for a URL in 10% of answers")
	}
	if url.Seq > 300 || url.P == nil || url.Value < url.Threshold {
		t.Errorf("alert %+v", url)
	}
}

func TestAnalyzeText(t *testing.T) {
	for _, tc := range []struct {
		text, lang string
		refusal    bool
	}{
		{"The weather is fine and the sun is out today.", "en", false},
		{"Ich bin nicht sicher, ob das die richtige Antwort ist.", "de", false},
		{"Je ne sais pas si c'est la bonne réponse pour le projet.", "fr", false},
		{"Это ответ на ваш вопрос.", "ru", false},
		{"这是对你问题的回答。", "zh", false},
		{"I'm sorry, but I cannot help with that.", "en", true},
		{"As an AI language model, I cannot do that.", "en", true},
	} {
		f := AnalyzeText(tc.text)
		if f.Lang != tc.lang || f.Refusal != tc.refusal {
			t.Errorf("%q: lang %s refusal %v, want %s %v", tc.text, f.Lang, f.Refusal, tc.lang, tc.refusal)
		}
	}
	f := AnalyzeText("Visit https://evil.example/a?b=1, now.")
	want := map[string]bool{"https://evil.example/a?b=1": true, "evil.example": true}
	for _, tok := range f.Tokens {
		delete(want, tok)
	}
	if len(want) > 0 {
		t.Errorf("tokens %v lack %v", f.Tokens, want)
	}
}
