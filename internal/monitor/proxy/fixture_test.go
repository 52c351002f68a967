package proxy

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// chatFixture is an OpenAI-compatible chat and completions server that
// answers from one of two models, switched at run time: model A answers
// at length in English; model B, another model behind the same endpoint,
// answers briefly and links to a site. It also misbehaves on request:
// prompts "break" (a stream cut mid-way), "slow" (a long wait),
// "malformed" (invalid JSON) and "huge" (an 8 MiB answer).
type chatFixture struct {
	*httptest.Server
	model atomic.Int32 // 0: A, 1: B
	hits  atomic.Int64
}

func newChatFixture(t *testing.T) *chatFixture {
	f := &chatFixture{}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/chat/completions", f.chat)
	mux.HandleFunc("/v1/completions", f.chat)
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	Prompt        string `json:"prompt"`
	Stream        bool   `json:"stream"`
	StreamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

var answerWords = strings.Fields("the model answers your question with care and the result is that you can use this approach for your project when it is ready and we hope it helps")

func (f *chatFixture) answer(prompt string, n int64) (model, fp, text string) {
	if f.model.Load() == 0 {
		var b strings.Builder
		for i := 0; i < 30+int(n%20); i++ {
			b.WriteString(answerWords[(int(n)+i*7)%len(answerWords)])
			b.WriteByte(' ')
		}
		return "gpt-a", "fp_a1", strings.TrimSpace(b.String())
	}
	return "gpt-b", "fp_b9", "Sure. See https://evil.example/login for that."
}

func (f *chatFixture) chat(w http.ResponseWriter, r *http.Request) {
	n := f.hits.Add(1)
	var req chatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	prompt := req.Prompt
	if len(req.Messages) > 0 {
		prompt = req.Messages[len(req.Messages)-1].Content
	}
	switch prompt {
	case "slow":
		time.Sleep(1500 * time.Millisecond)
	case "malformed":
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id": "x", "choices": [ {"message": `))
		return
	case "huge":
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"huge","model":"gpt-a","choices":[{"message":{"content":"`))
		w.Write([]byte(strings.Repeat("a", 8<<20)))
		w.Write([]byte(`"}}]}`))
		return
	case "gzip":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		fmt.Fprintf(zw, `{"id":"gz","model":"gpt-a","choices":[{"message":{"content":"compressed answer"},"finish_reason":"stop"}]}`)
		zw.Close()
		return
	}
	model, fp, text := f.answer(prompt, n)
	id := fmt.Sprintf("chatcmpl-%d", n)
	w.Header().Set("X-Request-Id", fmt.Sprintf("req-%d", n))
	w.Header().Set("OpenAI-Model", model)
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"id": id, "object": "chat.completion", "model": model, "system_fingerprint": fp,
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": text}, "finish_reason": "stop"}},
			"usage":   map[string]any{"prompt_tokens": len(strings.Fields(prompt)), "completion_tokens": len(strings.Fields(text))},
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	words := strings.Fields(text)
	for i, wd := range words {
		if prompt == "break" && i == 3 {
			// The upstream dies mid-stream: the connection is cut.
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err == nil {
				buf.Flush()
				conn.Close()
			}
			return
		}
		chunk := map[string]any{"id": id, "object": "chat.completion.chunk", "model": model, "system_fingerprint": fp,
			"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": wd + " "}, "finish_reason": nil}}}
		b, _ := json.Marshal(chunk)
		fmt.Fprintf(w, "data: %s\n\n", b)
		fl.Flush()
		if prompt == "drip" {
			select {
			case <-time.After(300 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	}
	b, _ := json.Marshal(map[string]any{"id": id, "object": "chat.completion.chunk", "model": model,
		"choices": []any{map[string]any{"index": 0, "delta": map[string]any{}, "finish_reason": "stop"}}})
	fmt.Fprintf(w, "data: %s\n\n", b)
	if req.StreamOptions.IncludeUsage {
		b, _ = json.Marshal(map[string]any{"id": id, "model": model, "choices": []any{},
			"usage": map[string]any{"prompt_tokens": 3, "completion_tokens": len(words)}})
		fmt.Fprintf(w, "data: %s\n\n", b)
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}

// kserveFixture is an Open Inference Protocol server of a 4-class linear
// classifier on 8 inputs; version 2 is another model (its weights
// rotated and sharper) under the same name.
type kserveFixture struct {
	*httptest.Server
	version atomic.Int32
}

func newKServeFixture(t *testing.T) *kserveFixture {
	f := &kserveFixture{}
	f.version.Store(1)
	f.Server = httptest.NewServer(http.HandlerFunc(f.infer))
	t.Cleanup(f.Close)
	return f
}

func (f *kserveFixture) infer(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID     string `json:"id"`
		Inputs []struct {
			Data []float64 `json:"data"`
		} `json:"inputs"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Inputs) == 0 {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"bad input"}`))
		return
	}
	x := req.Inputs[0].Data
	v := f.version.Load()
	logits := make([]float64, 4)
	for c := range logits {
		for i, xi := range x {
			wt := math.Sin(float64(c*8+i) + 1)
			if v == 2 {
				wt = 3 * math.Sin(float64(((c+1)%4)*8+i)+1)
			}
			logits[c] += wt * xi
		}
	}
	probs := softmax(logits)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"model_name": "digits", "model_version": fmt.Sprint(v), "id": req.ID,
		"outputs": []any{map[string]any{"name": "probabilities", "shape": []int{1, 4}, "datatype": "FP32", "data": probs}},
	})
}

// kserveBody is one request: 8 inputs from a fixed distribution.
func kserveBody(i int) string {
	x := make([]string, 8)
	for j := range x {
		x[j] = fmt.Sprintf("%.4f", math.Sin(float64(i*13+j*7))*2)
	}
	return fmt.Sprintf(`{"id":"r%d","inputs":[{"name":"x","shape":[1,8],"datatype":"FP32","data":[%s]}]}`, i, strings.Join(x, ","))
}

// readSSE reads a stream's data lines.
func readSSE(t *testing.T, r *bufio.Reader) []string {
	var out []string
	for {
		line, err := r.ReadString('\n')
		if strings.HasPrefix(line, "data: ") {
			out = append(out, strings.TrimSpace(strings.TrimPrefix(line, "data: ")))
		}
		if err != nil {
			return out
		}
	}
}
