package hfconfig

import (
	"strings"
	"testing"
)

func TestParseModelConfig_GPT2Names(t *testing.T) {
	m, err := ParseModelConfig([]byte(`{"model_type":"gpt2","architectures":["GPT2LMHeadModel"],"n_embd":64,"n_layer":2,"n_head":2,"n_positions":64,"vocab_size":200,"activation_function":"gelu_new","torch_dtype":"bfloat16","auto_map":{"AutoModel":"x.Y"},"quantization_config":{"quant_method":"gptq","bits":4}}`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range m.Hyper {
		got[kv.Key] = kv.Value
	}
	for k, v := range map[string]string{"hidden_size": "64", "num_hidden_layers": "2", "num_attention_heads": "2", "max_position_embeddings": "64", "vocab_size": "200", "hidden_act": "gelu_new"} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if m.ModelType != "gpt2" || m.Architectures[0] != "GPT2LMHeadModel" || m.DType != "bfloat16" || !m.RemoteCode || m.Quantization != "gptq 4-bit" {
		t.Errorf("%+v", m)
	}
}

func TestParseTrainingArgs_DropsSecretsAndPaths(t *testing.T) {
	kv, err := ParseTrainingArgs([]byte(`{"learning_rate": 2e-05, "hub_token": "hf_secret", "output_dir": "/home/me/run", "push_to_hub_token": "x", "seed": 42, "optim": "adamw_torch", "report_to": ["wandb"], "lr_scheduler_kwargs": {}}`))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, k := range kv {
		keys = append(keys, k.Key+"="+k.Value)
	}
	if got := strings.Join(keys, " "); got != "learning_rate=2e-05 optim=adamw_torch seed=42" {
		t.Errorf("got %s", got)
	}
}

func TestParseTrainerState(t *testing.T) {
	kv, err := ParseTrainerState([]byte(`{"epoch": 3.0, "global_step": 300, "train_batch_size": 32, "log_history": [{"loss": 0.7, "step": 10}, {"loss": 0.2, "eval_accuracy": 0.91, "step": 300}], "best_model_checkpoint": "/tmp/x"}`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, k := range kv {
		got[k.Key] = k.Value
	}
	if got["epoch"] != "3.0" || got["final_loss"] != "0.2" || got["final_eval_accuracy"] != "0.91" || got["log_history_entries"] != "2" || got["best_model_checkpoint"] != "" {
		t.Errorf("%v", got)
	}
}

func TestParseAdapterAndIndex(t *testing.T) {
	a, err := ParseAdapterConfig([]byte(`{"peft_type":"LORA","base_model_name_or_path":"openai-community/gpt2","r":2,"lora_alpha":8,"target_modules":["c_attn","c_proj"],"task_type":"CAUSAL_LM"}`))
	if err != nil || a.R != "2" || a.Alpha != "8" || strings.Join(a.TargetModules, ",") != "c_attn,c_proj" || a.BaseModel != "openai-community/gpt2" {
		t.Errorf("%+v %v", a, err)
	}
	ix, err := ParseIndex([]byte(`{"metadata":{"total_parameters":10,"total_size":40},"weight_map":{"a":"m-2.safetensors","b":"m-1.safetensors","c":"m-1.safetensors"}}`))
	if err != nil || ix.TotalParameters != 10 || strings.Join(ix.Shards, ",") != "m-1.safetensors,m-2.safetensors" || ix.Tensors != 3 {
		t.Errorf("%+v %v", ix, err)
	}
}

func TestHostile(t *testing.T) {
	for name, b := range map[string]string{
		"not JSON":  "{",
		"array":     "[1,2]",
		"bad UTF-8": "{\"a\": \"\xff\"}",
		"deep":      "{\"a\":" + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "}",
		"too large": "{\"a\":\"" + strings.Repeat("x", MaxBytes) + "\"}",
		"empty":     "",
	} {
		for _, parse := range []func([]byte) error{
			func(b []byte) error { _, err := ParseModelConfig(b); return err },
			func(b []byte) error { _, err := ParseAdapterConfig(b); return err },
			func(b []byte) error { _, err := ParseTrainingArgs(b); return err },
			func(b []byte) error { _, err := ParseTrainerState(b); return err },
			func(b []byte) error { _, err := ParseGenerationConfig(b); return err },
			func(b []byte) error { _, err := ParseIndex(b); return err },
		} {
			if err := parse([]byte(b)); err == nil && name != "deep" {
				t.Errorf("%s: accepted", name)
			}
		}
	}
}

func FuzzParsers(f *testing.F) {
	f.Add([]byte(`{"model_type":"bert","hidden_size":32,"quantization_config":{"bits":4},"auto_map":{"a":"b"}}`))
	f.Add([]byte(`{"log_history":[{"loss":1}],"weight_map":{"a":"b"},"target_modules":["q"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseModelConfig(b)
		_, _ = ParseAdapterConfig(b)
		_, _ = ParseTrainingArgs(b)
		_, _ = ParseTrainerState(b)
		_, _ = ParseGenerationConfig(b)
		_, _ = ParseIndex(b)
	})
}
