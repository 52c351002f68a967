package monitor

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode"
)

// AnalyzeText extracts the features of a generated text that the LLM
// detectors watch: its length, whether it reads as a refusal, its
// language, and the distinct tokens (URLs, domains, words) that may
// appear suddenly across many responses.
func AnalyzeText(s string) *TextFeatures {
	ws := words(s)
	f := &TextFeatures{Length: len(ws), Refusal: isRefusal(s), Lang: detectLang(s, ws), digest: digestHex(s)}
	seen := map[string]bool{}
	add := func(t string) {
		if t != "" && !seen[t] && len(seen) < maxTokensPerText {
			seen[t] = true
		}
	}
	for _, u := range urlRE().FindAllString(s, maxTokensPerText) {
		u = strings.TrimRight(u, ".,;:!?)]}'\"")
		add(u)
		if pu, err := url.Parse(u); err == nil && pu.Host != "" {
			add(strings.ToLower(pu.Host))
		}
	}
	for _, w := range ws {
		if len(w) >= 3 && len(w) <= 40 {
			add(w)
		}
	}
	f.Tokens = make([]string, 0, len(seen))
	for t := range seen {
		f.Tokens = append(f.Tokens, t)
	}
	sort.Strings(f.Tokens)
	return f
}

const maxTokensPerText = 512

// The expressions compile on first use, not at start-up.
var urlRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s<>"'` + "`" + `]+`)
})

// refusalRE matches the openings and stock phrases of refusals.
var refusalRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)\b(?:i(?:'m| am) sorry,? but|i can(?:not|'t|’t) (?:help|assist|comply|provide|do that|fulfil)|i(?:'m| am) (?:not able|unable) to|i won(?:'t|’t) (?:help|be able|provide)|as an ai(?: language model)?,? i|i must decline|i(?:'m| am) afraid i can(?:not|'t)|that request (?:violates|goes against)|against (?:my|our) (?:guidelines|policy|policies))`)
})

func isRefusal(s string) bool {
	if len(s) > 4096 {
		s = s[:4096] // refusals say so early
	}
	return refusalRE().MatchString(s)
}

// stopwords of the Latin-script languages told apart by detectLang.
var stopwords = map[string][]string{
	"en": {"the", "and", "is", "of", "to", "in", "that", "it", "you", "for", "with", "this", "are", "was", "on", "an", "as", "be", "not", "can", "do", "have", "at", "by", "i", "we", "your", "what"},
	"de": {"der", "die", "und", "ist", "das", "nicht", "ich", "zu", "den", "mit", "sie", "es", "ein", "auf", "für"},
	"fr": {"le", "la", "et", "les", "des", "est", "un", "une", "du", "que", "pas", "pour", "dans", "vous", "il"},
	"es": {"el", "la", "de", "que", "y", "los", "es", "en", "un", "por", "con", "para", "una", "las", "del"},
	"it": {"il", "di", "che", "è", "la", "non", "per", "un", "una", "sono", "del", "con", "gli", "della", "le"},
	"pt": {"o", "de", "que", "e", "não", "um", "uma", "os", "para", "com", "do", "da", "em", "é", "são"},
	"nl": {"de", "het", "een", "en", "van", "is", "niet", "dat", "op", "te", "zijn", "met", "voor", "ik", "je"},
}

var stopwordLang = sync.OnceValue(func() map[string][]string {
	m := map[string][]string{}
	for lang, ws := range stopwords {
		for _, w := range ws {
			m[w] = append(m[w], lang)
		}
	}
	return m
})

// detectLang guesses a text's language: by script first, then, for
// Latin script, by stopwords. "und" when it cannot tell.
func detectLang(s string, ws []string) string {
	counts := map[string]int{}
	n := 0
	for _, r := range s {
		if !unicode.IsLetter(r) {
			continue
		}
		n++
		switch {
		case unicode.Is(unicode.Han, r):
			counts["zh"]++
		case unicode.In(r, unicode.Hiragana, unicode.Katakana):
			counts["ja"]++
		case unicode.Is(unicode.Hangul, r):
			counts["ko"]++
		case unicode.Is(unicode.Cyrillic, r):
			counts["ru"]++
		case unicode.Is(unicode.Arabic, r):
			counts["ar"]++
		case unicode.Is(unicode.Devanagari, r):
			counts["hi"]++
		case unicode.Is(unicode.Greek, r):
			counts["el"]++
		case unicode.Is(unicode.Hebrew, r):
			counts["he"]++
		case unicode.Is(unicode.Thai, r):
			counts["th"]++
		case unicode.Is(unicode.Latin, r):
			counts["latin"]++
		}
		if n >= 2000 {
			break
		}
	}
	if n == 0 {
		return "und"
	}
	if counts["ja"] > 0 && counts["ja"]+counts["zh"] > n/2 {
		return "ja"
	}
	best, bc := "und", 0
	for k, c := range counts {
		if c > bc || (c == bc && k < best) {
			best, bc = k, c
		}
	}
	if bc*2 < n {
		return "und"
	}
	if best != "latin" {
		return best
	}
	votes := map[string]int{}
	for i, w := range ws {
		if i >= 500 {
			break
		}
		for _, l := range stopwordLang()[w] {
			votes[l]++
		}
	}
	best, bc = "und", 0
	for k, c := range votes {
		if c > bc || (c == bc && k < best) {
			best, bc = k, c
		}
	}
	if bc < 2 {
		return "und"
	}
	return best
}
