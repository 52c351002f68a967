// Package hfconfig reads the JSON configuration files of a Hugging Face
// model repository: config.json (architecture and hyperparameters),
// generation_config.json, adapter_config.json (PEFT/LoRA),
// training_args.json, trainer_state.json and the sharded-checkpoint index
// (model.safetensors.index.json).
//
// Every parser takes the file's bytes (callers read them under MaxBytes)
// and returns plain facts with values kept as written ("2e-05" stays
// "2e-05"). Nothing is instantiated: auto_map, Hydra _target_ and similar
// keys are data here, never code, and training_args.bin is never read
// (it is a pickle; the scan verb inspects it). Secrets that tools sometimes
// leave in training arguments (hub_token and the like) are dropped.
package hfconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aigis-dev/aigis/internal/jsonerr"
)

// MaxBytes is the largest configuration file read. trainer_state.json
// with a long log history is the biggest of them in practice.
const MaxBytes = 16 << 20

// maxKeys bounds the keys kept from one file.
const maxKeys = 512

// KV is one setting, value as written.
type KV struct{ Key, Value string }

// ErrNotObject is returned for JSON that is not an object.
var ErrNotObject = errors.New("not a JSON object")

// object decodes the top level of a JSON object, keeping values raw.
func object(b []byte) (map[string]json.RawMessage, error) {
	if len(b) > MaxBytes {
		return nil, fmt.Errorf("%d bytes, over the %d-byte limit", len(b), MaxBytes)
	}
	if !utf8.Valid(b) {
		return nil, errors.New("not valid UTF-8")
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, ErrNotObject
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", jsonerr.Clean(err))
	}
	return m, nil
}

// scalar renders a JSON scalar (or a flat list of scalars, comma-joined)
// as text; ok is false for null, objects and nested lists.
func scalar(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch raw[0] {
	case 'n':
		return "", false
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return clip(s), true
	case '{':
		return "", false
	case '[':
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil || len(list) > 256 {
			return "", false
		}
		parts := make([]string, 0, len(list))
		for _, e := range list {
			s, ok := scalar(e)
			if !ok || strings.HasPrefix(string(bytes.TrimSpace(e)), "[") {
				return "", false
			}
			parts = append(parts, s)
		}
		return clip(strings.Join(parts, ",")), true
	}
	return clip(string(raw)), true // number or boolean, as written
}

func clip(s string) string {
	if len(s) > 1024 {
		s = s[:1024]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

func get(m map[string]json.RawMessage, keys ...string) string {
	for _, k := range keys {
		if v, ok := scalar(m[k]); ok && v != "" {
			return v
		}
	}
	return ""
}

// sensitive keys are dropped wherever they appear.
func sensitive(k string) bool {
	k = strings.ToLower(k)
	if k == "token" || strings.HasSuffix(k, "_token") {
		return true // hub_token, access_token (not pad_token_id)
	}
	for _, w := range []string{"secret", "password", "api_key", "apikey", "credential"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// scalars lists every scalar top-level setting, sorted by key, except
// secrets and the keys in skip.
func scalars(m map[string]json.RawMessage, skip func(string) bool) []KV {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []KV
	for _, k := range keys {
		if sensitive(k) || skip != nil && skip(k) || len(k) > 128 {
			continue
		}
		if v, ok := scalar(m[k]); ok {
			out = append(out, KV{k, v})
			if len(out) == maxKeys {
				break
			}
		}
	}
	return out
}

// Model is what config.json says about a model.
type Model struct {
	ModelType     string // the architecture family ("bert", "llama")
	Architectures []string
	DType         string // torch_dtype / dtype
	// Hyper are the architecture hyperparameters under the names of the
	// CycloneDX cdx:ai-ml:model:hyperparameter taxonomy, in a fixed order.
	Hyper []KV
	// Quantization describes quantization_config ("gptq 4-bit").
	Quantization string
	// RemoteCode is set when auto_map names custom Python classes.
	RemoteCode bool
	// NameOrPath is _name_or_path, a hint of where the weights came from.
	NameOrPath string
}

// hyperNames maps taxonomy names to the config keys different model
// families use for them, in preference order.
var hyperNames = []struct {
	name string
	keys []string
}{
	{"hidden_size", []string{"hidden_size", "n_embd", "d_model", "dim"}},
	{"num_hidden_layers", []string{"num_hidden_layers", "n_layer", "num_layers", "n_layers"}},
	{"num_attention_heads", []string{"num_attention_heads", "n_head", "num_heads", "n_heads"}},
	{"num_key_value_heads", []string{"num_key_value_heads", "n_kv_heads"}},
	{"intermediate_size", []string{"intermediate_size", "n_inner", "ffn_dim", "d_ff"}},
	{"max_position_embeddings", []string{"max_position_embeddings", "n_positions", "max_seq_len", "seq_length"}},
	{"vocab_size", []string{"vocab_size"}},
	{"hidden_act", []string{"hidden_act", "activation_function", "hidden_activation"}},
	{"layer_norm_epsilon", []string{"layer_norm_eps", "layer_norm_epsilon", "rms_norm_eps"}},
	{"activation_dropout", []string{"activation_dropout"}},
	{"tokenizer_class", []string{"tokenizer_class"}},
}

// ParseModelConfig reads config.json.
func ParseModelConfig(b []byte) (*Model, error) {
	m, err := object(b)
	if err != nil {
		return nil, err
	}
	out := &Model{ModelType: get(m, "model_type"), DType: get(m, "torch_dtype", "dtype"), NameOrPath: get(m, "_name_or_path")}
	var archs []json.RawMessage
	if json.Unmarshal(m["architectures"], &archs) == nil {
		for _, a := range archs {
			if s, ok := scalar(a); ok && s != "" && len(out.Architectures) < 16 {
				out.Architectures = append(out.Architectures, s)
			}
		}
	}
	for _, h := range hyperNames {
		if v := get(m, h.keys...); v != "" {
			out.Hyper = append(out.Hyper, KV{h.name, v})
		}
	}
	if q, err := object(m["quantization_config"]); err == nil {
		method := get(q, "quant_method")
		bits := get(q, "bits")
		switch {
		case get(q, "load_in_4bit") == "true":
			bits = "4"
		case get(q, "load_in_8bit") == "true":
			bits = "8"
		}
		out.Quantization = strings.TrimSpace(method + " " + suffix(bits, "-bit"))
	}
	if am, err := object(m["auto_map"]); err == nil && len(am) > 0 {
		out.RemoteCode = true
	}
	return out, nil
}

func suffix(s, sfx string) string {
	if s == "" {
		return ""
	}
	return s + sfx
}

// Adapter is a PEFT adapter_config.json.
type Adapter struct {
	PeftType      string // "LORA"
	BaseModel     string // base_model_name_or_path
	Revision      string
	TaskType      string
	R, Alpha      string
	Dropout       string
	TargetModules []string
	// Settings are the other scalar settings, sorted.
	Settings []KV
}

// ParseAdapterConfig reads adapter_config.json.
func ParseAdapterConfig(b []byte) (*Adapter, error) {
	m, err := object(b)
	if err != nil {
		return nil, err
	}
	a := &Adapter{PeftType: get(m, "peft_type"), BaseModel: get(m, "base_model_name_or_path"), Revision: get(m, "revision"),
		TaskType: get(m, "task_type"), R: get(m, "r"), Alpha: get(m, "lora_alpha"), Dropout: get(m, "lora_dropout")}
	if tm, ok := scalar(m["target_modules"]); ok && tm != "" {
		a.TargetModules = strings.Split(tm, ",")
	}
	named := map[string]bool{"peft_type": true, "base_model_name_or_path": true, "revision": true, "task_type": true, "r": true, "lora_alpha": true, "lora_dropout": true, "target_modules": true}
	a.Settings = scalars(m, func(k string) bool { return named[k] })
	return a, nil
}

// trainingSkip drops keys that are local paths or run bookkeeping rather
// than how the model was trained.
func trainingSkip(k string) bool {
	return strings.HasSuffix(k, "_dir") || strings.HasSuffix(k, "_path") || k == "run_name" || strings.HasPrefix(k, "hub_") ||
		k == "resume_from_checkpoint" || k == "output_dir" || k == "best_model_checkpoint" || k == "report_to"
}

// ParseTrainingArgs reads training_args.json (TrainingArguments.to_json):
// every scalar argument except paths and secrets, sorted by key.
func ParseTrainingArgs(b []byte) ([]KV, error) {
	m, err := object(b)
	if err != nil {
		return nil, err
	}
	return scalars(m, trainingSkip), nil
}

// ParseGenerationConfig reads generation_config.json.
func ParseGenerationConfig(b []byte) ([]KV, error) {
	m, err := object(b)
	if err != nil {
		return nil, err
	}
	return scalars(m, func(k string) bool { return k == "transformers_version" || strings.HasPrefix(k, "_") }), nil
}

// ParseTrainerState reads trainer_state.json: the run's scalar totals
// (epochs, steps, batch size, FLOPs, best metric) and the last logged
// value of each metric in log_history, prefixed "final_".
func ParseTrainerState(b []byte) ([]KV, error) {
	m, err := object(b)
	if err != nil {
		return nil, err
	}
	out := scalars(m, func(k string) bool {
		return trainingSkip(k) || k == "is_local_process_zero" || k == "is_world_process_zero" || k == "is_hyper_param_search" || k == "trial_name"
	})
	var hist []json.RawMessage
	if json.Unmarshal(m["log_history"], &hist) == nil {
		final := map[string]string{}
		for _, e := range hist {
			em, err := object(e)
			if err != nil {
				continue
			}
			for k, v := range em {
				if s, ok := scalar(v); ok && k != "step" && k != "epoch" && !sensitive(k) && len(k) <= 128 {
					final[k] = s
				}
			}
		}
		keys := make([]string, 0, len(final))
		for k := range final {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if len(out) >= maxKeys {
				break
			}
			out = append(out, KV{"final_" + k, final[k]})
		}
		out = append(out, KV{"log_history_entries", strconv.Itoa(len(hist))})
	}
	return out, nil
}

// Index is a sharded checkpoint's index (model.safetensors.index.json or
// pytorch_model.bin.index.json).
type Index struct {
	TotalSize       int64
	TotalParameters int64
	// Shards are the files the weight map names, sorted, deduplicated.
	Shards []string
	// Tensors is the number of entries in the weight map.
	Tensors int
}

// ParseIndex reads a shard index.
func ParseIndex(b []byte) (*Index, error) {
	m, err := object(b)
	if err != nil {
		return nil, err
	}
	ix := &Index{}
	if meta, err := object(m["metadata"]); err == nil {
		ix.TotalSize, _ = strconv.ParseInt(get(meta, "total_size"), 10, 64)
		ix.TotalParameters, _ = strconv.ParseInt(get(meta, "total_parameters"), 10, 64)
	}
	wm, err := object(m["weight_map"])
	if err != nil {
		return nil, fmt.Errorf("weight_map: %w", err)
	}
	seen := map[string]bool{}
	for _, v := range wm {
		s, ok := scalar(v)
		if !ok || s == "" {
			continue
		}
		ix.Tensors++
		if !seen[s] {
			seen[s] = true
			ix.Shards = append(ix.Shards, s)
		}
	}
	sort.Strings(ix.Shards)
	return ix, nil
}
