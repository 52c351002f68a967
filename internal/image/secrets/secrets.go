// Package secrets finds credentials in the files and configuration of a
// container image: Hugging Face and OpenAI tokens, AWS access keys, Google
// Cloud service-account keys, .netrc and .git-credentials. Every value is
// reported masked (Mask), never whole. Placeholders, documentation
// examples and low-entropy strings are not reported: a token must look
// like one that was issued.
//
// It only reads the bytes it is given; it never validates a credential
// against its service.
package secrets

import (
	"bytes"
	"fmt"
	"math"
	"path"
	"regexp"
	"strings"
)

// Kind is what a credential is for; the image rules are named after it.
type Kind string

const (
	HuggingFace    Kind = "huggingface"
	OpenAI         Kind = "openai"
	AWS            Kind = "aws"
	GCP            Kind = "gcp"
	Netrc          Kind = "netrc"
	GitCredentials Kind = "git-credentials"
)

// Hit is one credential found.
type Hit struct {
	Kind Kind
	// Line is 1-based, 0 when not known.
	Line int
	// Masked is the value with all but its first characters hidden.
	Masked string
	// What says what was found ("AWS access key id and secret key").
	What string
	// Partial is true when only half of a pair was found (an AWS key id
	// without its secret).
	Partial bool
}

var (
	hfRE       = regexp.MustCompile(`\bhf_[A-Za-z0-9]{34,40}\b`)
	openaiRE   = regexp.MustCompile(`\bsk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,200}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})\b`)
	awsIDRE    = regexp.MustCompile(`\b(?:AKIA|ASIA)[A-Z2-7]{16}\b`)
	awsKeyRE   = regexp.MustCompile(`(?i)aws_?secret_?access_?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})\b`)
	gcpTypeRE  = regexp.MustCompile(`"type"\s*:\s*"(service_account|authorized_user)"`)
	gcpKeyRE   = regexp.MustCompile(`"private_key"\s*:\s*"-----BEGIN (?:RSA )?PRIVATE KEY-----`)
	gcpTokRE   = regexp.MustCompile(`"refresh_token"\s*:\s*"([^"]{20,})"`)
	netrcPwRE  = regexp.MustCompile(`(?:^|\s)password\s+(\S+)`)
	gitCredsRE = regexp.MustCompile(`^[a-z][a-z0-9+.-]*://([^:/@\s]+):([^@\s]+)@\S+`)
)

// prefilter holds the byte strings without which no detector can match,
// so that most files cost one pass of bytes.Contains.
var prefilter = [][]byte{[]byte("hf_"), []byte("sk-"), []byte("AKIA"), []byte("ASIA"), []byte("service_account"), []byte("authorized_user")}

// File scans one file's content; name is its path (the base name picks
// the .netrc and .git-credentials readers).
func File(name string, data []byte) []Hit {
	base := path.Base(name)
	var hits []Hit
	switch base {
	case ".netrc", "_netrc":
		hits = append(hits, netrc(data)...)
	case ".git-credentials":
		hits = append(hits, gitCredentials(data)...)
	}
	if isBinary(data) {
		return hits
	}
	any := false
	for _, p := range prefilter {
		if bytes.Contains(data, p) {
			any = true
			break
		}
	}
	if !any {
		return hits
	}
	return append(hits, Text(string(data))...)
}

// Text scans text (a file, an environment variable, a history entry).
func Text(s string) []Hit {
	var hits []Hit
	for _, m := range hfRE.FindAllStringIndex(s, -1) {
		v := s[m[0]:m[1]]
		if plausible(v[3:]) {
			hits = append(hits, Hit{Kind: HuggingFace, Line: lineOf(s, m[0]), Masked: Mask(v), What: "Hugging Face access token"})
		}
	}
	for _, m := range openaiRE.FindAllStringIndex(s, -1) {
		v := s[m[0]:m[1]]
		if plausible(v[strings.LastIndexByte(v, '-')+1:]) {
			hits = append(hits, Hit{Kind: OpenAI, Line: lineOf(s, m[0]), Masked: Mask(v), What: "OpenAI API key"})
		}
	}
	keys := awsKeyRE.FindAllStringSubmatchIndex(s, -1)
	for _, m := range awsIDRE.FindAllStringIndex(s, -1) {
		v := s[m[0]:m[1]]
		if strings.Contains(v, "EXAMPLE") || !plausible(v[4:]) {
			continue
		}
		h := Hit{Kind: AWS, Line: lineOf(s, m[0]), Masked: Mask(v), What: "AWS access key id", Partial: true}
		for _, k := range keys {
			secret := s[k[2]:k[3]]
			if strings.Contains(secret, "EXAMPLE") || !plausible(secret) {
				continue
			}
			h.What, h.Partial = "AWS access key id and secret access key ("+Mask(secret)+")", false
			break
		}
		hits = append(hits, h)
	}
	if m := gcpTypeRE.FindStringSubmatchIndex(s); m != nil {
		kind := s[m[2]:m[3]]
		if k := gcpKeyRE.FindStringIndex(s); kind == "service_account" && k != nil {
			hits = append(hits, Hit{Kind: GCP, Line: lineOf(s, k[0]), Masked: "-----BEGIN PRIVATE KEY-----…", What: "Google Cloud service-account private key"})
		} else if t := gcpTokRE.FindStringSubmatchIndex(s); kind == "authorized_user" && t != nil && plausible(s[t[2]:t[3]]) {
			hits = append(hits, Hit{Kind: GCP, Line: lineOf(s, t[0]), Masked: Mask(s[t[2]:t[3]]), What: "Google Cloud user refresh token (application default credentials)"})
		}
	}
	return hits
}

func netrc(data []byte) []Hit {
	var hits []Hit
	s := string(data)
	for _, m := range netrcPwRE.FindAllStringSubmatchIndex(s, -1) {
		v := s[m[2]:m[3]]
		if placeholder(v) {
			continue
		}
		hits = append(hits, Hit{Kind: Netrc, Line: lineOf(s, m[2]), Masked: Mask(v), What: ".netrc password"})
	}
	return hits
}

func gitCredentials(data []byte) []Hit {
	var hits []Hit
	for i, l := range strings.Split(string(data), "\n") {
		m := gitCredsRE.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil || placeholder(m[2]) {
			continue
		}
		hits = append(hits, Hit{Kind: GitCredentials, Line: i + 1, Masked: m[1] + ":" + Mask(m[2]), What: "git credential"})
	}
	return hits
}

// Mask keeps the first characters of a value (its kind's prefix and a
// few more, at most a quarter of it) and says how long it is.
func Mask(v string) string {
	keep := 0
	if i := strings.LastIndexAny(v, "_-"); i >= 0 && i < 12 {
		keep = i + 1
	}
	keep += min(4, len(v)/4)
	keep = min(keep, len(v)/2)
	return fmt.Sprintf("%s…(%d chars)", v[:keep], len(v))
}

// placeholder is a value nobody was issued: empty, a template, or an
// example.
func placeholder(v string) bool {
	l := strings.ToLower(strings.Trim(v, `"'`))
	if len(l) < 4 {
		return true
	}
	for _, w := range []string{"xxxx", "example", "your", "changeme", "password", "secret", "token", "<", "${", "$(", "***", "dummy", "placeholder", "redacted"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// plausible is a random-looking token body: not a placeholder, no long
// runs of one character, and enough entropy for a machine-issued value.
func plausible(v string) bool {
	if placeholder(v) {
		return false
	}
	run, longest := 1, 1
	for i := 1; i < len(v); i++ {
		if v[i] == v[i-1] {
			run++
			longest = max(longest, run)
		} else {
			run = 1
		}
	}
	if longest >= 5 {
		return false
	}
	return entropy(v) >= 3.0
}

func entropy(s string) float64 {
	var c [256]int
	for i := 0; i < len(s); i++ {
		c[s[i]]++
	}
	var h float64
	for _, n := range c {
		if n > 0 {
			p := float64(n) / float64(len(s))
			h -= p * math.Log2(p)
		}
	}
	return h
}

func lineOf(s string, off int) int { return strings.Count(s[:off], "\n") + 1 }

func isBinary(b []byte) bool {
	return bytes.IndexByte(b[:min(len(b), 8192)], 0) >= 0
}

// envNames are variables whose value is the credential itself, whatever
// it looks like.
var envNames = map[string]Kind{
	"HF_TOKEN": HuggingFace, "HUGGING_FACE_HUB_TOKEN": HuggingFace, "HUGGINGFACE_HUB_TOKEN": HuggingFace, "HUGGINGFACE_TOKEN": HuggingFace,
	"OPENAI_API_KEY":        OpenAI,
	"AWS_SECRET_ACCESS_KEY": AWS,
}

// Env scans one environment entry ("NAME=value"): the token patterns,
// and the value of a variable that holds a credential by name.
func Env(kv string) []Hit {
	hits := Text(kv)
	if len(hits) > 0 {
		return hits
	}
	name, v, ok := strings.Cut(kv, "=")
	if k, known := envNames[strings.ToUpper(name)]; ok && known && len(v) >= 16 && plausible(v) {
		hits = append(hits, Hit{Kind: k, Masked: Mask(v), What: name + " set in the environment"})
	}
	return hits
}
