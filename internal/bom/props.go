package bom

import (
	"strconv"
	"strings"
)

// Property name prefixes of the CycloneDX AI/ML taxonomy
// (cyclonedx-property-taxonomy, cdx/ai-ml.md). Names that the taxonomy
// does not list go under its "_undefined:" placeholder, as it asks.
const (
	HyperPrefix      = "cdx:ai-ml:model:hyperparameter:"
	ParamPrefix      = "cdx:ai-ml:model:parameter:"
	undefined        = "_undefined:"
	propLanguage     = "cdx:ai-ml:model:language"
	propParamCount   = ParamPrefix + "count"
	propTuneMethod   = ParamPrefix + "tune_method"
	propQuantization = HyperPrefix + "quantization"
)

// officialHyper are the hyperparameter names the taxonomy defines.
var officialHyper = map[string]bool{"activation_dropout": true, "context_length": true, "hidden_act": true, "hidden_size": true,
	"layer_norm_type": true, "num_hidden_layers": true, "intermediate_size": true, "layer_norm_epsilon": true,
	"max_position_embeddings": true, "num_attention_heads": true, "num_key_value_heads": true, "quantization": true,
	"tokenizer_class": true, "vocab_size": true}

// propName keeps a taxonomy name within its ABNF: letters, digits, "-",
// "_" and space.
func propName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == ' ':
			return r
		}
		return '_'
	}, s)
}

// HyperProperty names a model hyperparameter in the taxonomy.
func HyperProperty(key string) string {
	if officialHyper[key] {
		return HyperPrefix + key
	}
	return HyperPrefix + undefined + propName(key)
}

// ModelCardProperties are the model's facts as cdx:ai-ml properties, in a
// fixed order: architecture hyperparameters, parameter count,
// quantisation, languages, tuning method and adapter settings, training
// settings, generation settings.
func (m *Model) ModelCardProperties() []Property {
	var out []Property
	add := func(n, v string) {
		if v != "" {
			out = append(out, Property{n, v})
		}
	}
	for _, h := range m.Hyper {
		add(HyperProperty(h.Key), h.Value)
	}
	for _, h := range m.HeaderFacts {
		if h.Key == "context_length" || officialHyper[h.Key] && !hasKey(m.Hyper, h.Key) {
			add(HyperProperty(h.Key), h.Value)
		}
	}
	if m.Parameters > 0 {
		add(propParamCount, strconv.FormatInt(m.Parameters, 10))
	}
	add(propQuantization, m.QuantizationLabel())
	for _, l := range m.Languages {
		add(propLanguage, l)
	}
	add(propTuneMethod, m.TuneMethod)
	if a := m.Adapter; a != nil {
		add(AdapterProperty("peft_type"), a.PeftType)
		add(AdapterProperty("lora_r"), a.R)
		add(AdapterProperty("lora_alpha"), a.Alpha)
		add(AdapterProperty("lora_dropout"), a.Dropout)
		add(AdapterProperty("target_modules"), strings.Join(a.TargetModules, ","))
		add(AdapterProperty("peft_task_type"), a.TaskType)
	}
	for _, s := range m.Training {
		add(TrainingProperty(s.Key), s.Value)
	}
	for _, g := range m.Generation {
		add(HyperPrefix+undefined+"generation_"+propName(g.Key), g.Value)
	}
	return out
}

func hasKey(kvs []KV, k string) bool {
	for _, kv := range kvs {
		if kv.Key == k {
			return true
		}
	}
	return false
}

// QuantizationLabel is the quantisation (GGUF file type, quantization
// config, quantised dtypes) or, for unquantised weights, their dtype.
func (m *Model) QuantizationLabel() string {
	if m.Quantization != "" {
		return m.Quantization
	}
	return strings.ToLower(strings.Join(m.DTypes, ","))
}

// TrainingValue returns the first training setting named by any of keys.
func (m *Model) TrainingValue(keys ...string) string {
	for _, k := range keys {
		for _, s := range m.Training {
			if s.Key == k {
				return s.Value
			}
		}
	}
	return ""
}

// TrainingProperty names a training setting in the taxonomy.
func TrainingProperty(key string) string {
	return HyperPrefix + undefined + "training_" + propName(key)
}

// AdapterProperty names a PEFT adapter setting in the taxonomy.
func AdapterProperty(key string) string { return ParamPrefix + undefined + propName(key) }
