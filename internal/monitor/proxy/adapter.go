package proxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/tidwall/gjson"

	"github.com/aigis-dev/aigis/internal/monitor"
)

// JSONPaths locate the fields of a generic JSON API, in gjson path
// syntax ("instances.0", "predictions.0.scores"): Input in the request,
// the others in the response.
type JSONPaths struct {
	Input      string
	Label      string
	Scores     string
	Confidence string
	Model      string
}

func (j JSONPaths) empty() bool {
	return j.Input == "" && j.Label == "" && j.Scores == "" && j.Confidence == ""
}

var kservePath = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^/v2/models/([^/]+)(?:/versions/([^/]+))?/infer$`)
})

func isKServe(path string) bool {
	return strings.HasPrefix(path, "/v2/models/") && strings.HasSuffix(path, "/infer") && kservePath().MatchString(path)
}

// protocolOf names the adapter of a request ("" : not an inference
// request; it is proxied and counted, not recorded).
func (p *Proxy) protocolOf(r *http.Request) string {
	if r.Method != http.MethodPost {
		return ""
	}
	switch p.cfg.Protocol {
	case "openai", "kserve", "json":
		return p.cfg.Protocol
	}
	path := r.URL.Path
	switch {
	case strings.HasSuffix(path, "/chat/completions"), strings.HasSuffix(path, "/completions"):
		return "openai"
	case isKServe(path):
		return "kserve"
	case !p.cfg.Paths.empty():
		return "json"
	}
	return ""
}

func modelFromPath(path string) string {
	if !isKServe(path) {
		return ""
	}
	if m := kservePath().FindStringSubmatch(path); m != nil {
		return m[1]
	}
	return ""
}

// fingerprintHeaders copies the fingerprinting headers present (name,
// values) on the hot path; fingerprint digests them off it.
func fingerprintHeaders(h http.Header, names []string) []string {
	var out []string
	for _, n := range names {
		if v := h[n]; len(v) > 0 {
			out = append(out, n+"="+strings.Join(v, ","))
		}
	}
	return out
}

func fingerprint(parts []string) string {
	if len(parts) == 0 {
		return ""
	}
	sort.Strings(parts)
	s := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(s[:8])
}

// genAI is what a span reports of an OpenAI-compatible exchange.
type genAI struct {
	op, reqModel, respModel, respID string
	finish                          []string
	inTok, outTok                   int64
	stream                          bool
}

// parse turns an exchange into a record; false when there is nothing
// to record (no body, unreadable encoding).
func (p *Proxy) parse(ex *exchange) (*monitor.Record, bool) {
	rec := &monitor.Record{ID: ex.reqID, Time: ex.start, Status: ex.status, Confidence: math.NaN(),
		Incomplete: ex.broken || ex.failed, Headers: fingerprint(ex.headers)}
	var req, resp []byte
	if ex.reqBody != nil && !ex.reqTrunc {
		req = ex.reqBody.Bytes()
	}
	if ex.respBody != nil && !ex.respTrunc {
		resp = decode(ex.respBody.Bytes(), ex.contentEncoding, p.cfg.MaxCapture)
	}
	if ex.failed || ex.status >= 400 {
		resp = nil // an error body is not an answer
	}
	switch ex.proto {
	case "openai":
		p.parseOpenAI(ex, rec, req, resp)
	case "kserve":
		p.parseKServe(ex, rec, req, resp)
	case "json":
		p.parseJSON(rec, req, resp)
	default:
		return nil, false
	}
	return rec, true
}

// decode undoes a gzip Content-Encoding, bounded; other encodings are
// not parsed.
func decode(b []byte, enc string, limit int) []byte {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "", "identity":
		return b
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil
		}
		out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
		if err != nil || len(out) > limit {
			return nil
		}
		return out
	}
	return nil
}

func (p *Proxy) parseOpenAI(ex *exchange, rec *monitor.Record, req, resp []byte) {
	g := &genAI{op: "chat"}
	ex.gen = g
	if !strings.HasSuffix(ex.path, "/chat/completions") {
		g.op = "text_completion"
	}
	if len(req) > 0 && gjson.ValidBytes(req) {
		q := gjson.ParseBytes(req)
		g.reqModel = q.Get("model").String()
		g.stream = q.Get("stream").Bool()
		if prompt := promptText(q); prompt != "" {
			rec.Input = monitor.HashText(prompt, monitor.TextDim)
		}
	}
	rec.Model = g.reqModel
	if len(resp) == 0 {
		return
	}
	var text strings.Builder
	tb := bytes.TrimSpace(resp)
	if strings.HasPrefix(ex.contentType, "text/event-stream") || bytes.HasPrefix(tb, []byte("data:")) {
		done := false
		sc := bufio.NewScanner(bytes.NewReader(resp))
		sc.Buffer(make([]byte, 64<<10), p.cfg.MaxCapture+1)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			data, ok := bytes.CutPrefix(line, []byte("data:"))
			if !ok {
				continue
			}
			data = bytes.TrimSpace(data)
			if string(data) == "[DONE]" {
				done = true
				continue
			}
			if !gjson.ValidBytes(data) {
				rec.Incomplete = true
				continue
			}
			c := gjson.ParseBytes(data)
			openAIFields(c, g, rec)
			ch := c.Get("choices.0")
			if s := ch.Get("delta.content"); s.Exists() {
				text.WriteString(s.String())
			} else if s := ch.Get("text"); s.Exists() {
				text.WriteString(s.String())
			}
			if f := ch.Get("finish_reason").String(); f != "" {
				g.finish = append(g.finish, f)
			}
		}
		if !done {
			rec.Incomplete = true
		}
	} else {
		if !gjson.ValidBytes(resp) {
			rec.Incomplete = true
			return
		}
		c := gjson.ParseBytes(resp)
		openAIFields(c, g, rec)
		c.Get("choices").ForEach(func(_, ch gjson.Result) bool {
			if f := ch.Get("finish_reason").String(); f != "" {
				g.finish = append(g.finish, f)
			}
			return true
		})
		ch := c.Get("choices.0")
		if s := ch.Get("message.content"); s.Exists() {
			text.WriteString(s.String())
		} else {
			text.WriteString(ch.Get("text").String())
		}
	}
	rec.Text = monitor.AnalyzeText(text.String())
	rec.Text.Tokens0 = int(g.outTok)
	if p.cfg.LogContent {
		rec.Output = text.String()
	}
}

func openAIFields(c gjson.Result, g *genAI, rec *monitor.Record) {
	if v := c.Get("id").String(); v != "" && g.respID == "" {
		g.respID = v
		if rec.ID == "" {
			rec.ID = v
		}
	}
	if v := c.Get("model").String(); v != "" {
		g.respModel = v
		rec.Model = v
	}
	if v := c.Get("system_fingerprint").String(); v != "" {
		rec.SystemFingerprint = v
	}
	if u := c.Get("usage"); u.IsObject() {
		g.inTok = u.Get("prompt_tokens").Int()
		g.outTok = u.Get("completion_tokens").Int()
	}
}

// promptText is the text a request asks about: the last user message of
// a chat (string content or text parts), or the prompt of a completion.
func promptText(q gjson.Result) string {
	if msgs := q.Get("messages"); msgs.IsArray() {
		var last string
		msgs.ForEach(func(_, m gjson.Result) bool {
			if m.Get("role").String() != "user" {
				return true
			}
			c := m.Get("content")
			if c.IsArray() {
				var b strings.Builder
				c.ForEach(func(_, part gjson.Result) bool {
					if t := part.Get("text"); t.Exists() {
						b.WriteString(t.String())
						b.WriteByte(' ')
					}
					return true
				})
				last = b.String()
			} else {
				last = c.String()
			}
			return true
		})
		return last
	}
	pr := q.Get("prompt")
	if pr.IsArray() {
		var b strings.Builder
		pr.ForEach(func(_, v gjson.Result) bool { b.WriteString(v.String()); b.WriteByte(' '); return true })
		return b.String()
	}
	return pr.String()
}

func (p *Proxy) parseKServe(ex *exchange, rec *monitor.Record, req, resp []byte) {
	rec.Model = ex.modelPath
	if len(req) > 0 && gjson.ValidBytes(req) {
		q := gjson.ParseBytes(req)
		if rec.ID == "" {
			rec.ID = q.Get("id").String()
		}
		if in := q.Get("inputs.0.data"); in.Exists() {
			rec.Input = monitor.FeaturesOf(in.Value())
		}
	}
	if len(resp) == 0 {
		return
	}
	if !gjson.ValidBytes(resp) {
		rec.Incomplete = true
		return
	}
	c := gjson.ParseBytes(resp)
	if v := c.Get("model_name").String(); v != "" {
		rec.Model = v
	}
	rec.SystemFingerprint = c.Get("model_version").String()
	if rec.ID == "" {
		rec.ID = c.Get("id").String()
	}
	var scores []float64
	label := ""
	if p.cfg.Paths.Scores != "" {
		scores = floats(c.Get(p.cfg.Paths.Scores))
	}
	if p.cfg.Paths.Label != "" {
		label = scalarString(c.Get(p.cfg.Paths.Label))
	}
	c.Get("outputs").ForEach(func(_, o gjson.Result) bool {
		data := o.Get("data")
		n := len(data.Array())
		dt := strings.ToUpper(o.Get("datatype").String())
		switch {
		case scores == nil && strings.HasPrefix(dt, "FP") && n > 1:
			scores = floats(data)
		case label == "" && n == 1 && (strings.HasPrefix(dt, "INT") || strings.HasPrefix(dt, "UINT") || dt == "BYTES"):
			label = scalarString(data.Get("0"))
		}
		return true
	})
	setOutputs(rec, scores, label, math.NaN())
}

func (p *Proxy) parseJSON(rec *monitor.Record, req, resp []byte) {
	if p.cfg.Paths.Input != "" && len(req) > 0 && gjson.ValidBytes(req) {
		if in := gjson.GetBytes(req, p.cfg.Paths.Input); in.Exists() {
			rec.Input = monitor.FeaturesOf(in.Value())
		}
	}
	if len(resp) == 0 {
		return
	}
	if !gjson.ValidBytes(resp) {
		rec.Incomplete = true
		return
	}
	c := gjson.ParseBytes(resp)
	var scores []float64
	label, conf := "", math.NaN()
	if p.cfg.Paths.Scores != "" {
		scores = floats(c.Get(p.cfg.Paths.Scores))
	}
	if p.cfg.Paths.Label != "" {
		label = scalarString(c.Get(p.cfg.Paths.Label))
	}
	if p.cfg.Paths.Confidence != "" {
		if v := c.Get(p.cfg.Paths.Confidence); v.Exists() {
			conf = v.Float()
		}
	}
	if p.cfg.Paths.Model != "" {
		rec.Model = c.Get(p.cfg.Paths.Model).String()
	}
	setOutputs(rec, scores, label, conf)
}

// setOutputs fills label, probabilities and confidence from scores that
// are probabilities (in [0, 1], summing to 1) or logits (softmaxed).
func setOutputs(rec *monitor.Record, scores []float64, label string, conf float64) {
	if len(scores) > 1 {
		probs := scores
		var s float64
		ok := true
		for _, v := range scores {
			if v < 0 || v > 1 || math.IsNaN(v) {
				ok = false
			}
			s += v
		}
		if !ok || math.Abs(s-1) > 1e-3 {
			probs = softmax(scores)
		}
		rec.Probs = probs
		best := 0
		for i, v := range probs {
			if v > probs[best] {
				best = i
			}
		}
		if label == "" {
			label = strconv.Itoa(best)
		}
		if math.IsNaN(conf) {
			conf = probs[best]
		}
	}
	rec.Label = label
	rec.Confidence = conf
}

func softmax(x []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v)
	}
	out := make([]float64, len(x))
	var s float64
	for i, v := range x {
		out[i] = math.Exp(v - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

// floats flattens a JSON array (nested: the first row) into numbers.
func floats(r gjson.Result) []float64 {
	if !r.IsArray() {
		return nil
	}
	arr := r.Array()
	if len(arr) > 0 && arr[0].IsArray() {
		arr = arr[0].Array()
	}
	out := make([]float64, 0, len(arr))
	for _, v := range arr {
		if v.Type != gjson.Number {
			return nil
		}
		out = append(out, v.Float())
	}
	return out
}

func scalarString(r gjson.Result) string {
	if r.IsArray() {
		r = r.Get("0")
	}
	switch r.Type {
	case gjson.Number:
		return strconv.FormatFloat(r.Float(), 'g', -1, 64)
	case gjson.String:
		return r.String()
	}
	return ""
}
