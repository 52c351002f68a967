package card

import (
	"strings"
	"testing"
	"time"
)

func TestParse_TrainerCard(t *testing.T) {
	c := Parse([]byte(`---
license: other
license_name: my-licence
license_link: LICENSE
base_model: [a/b, c/d]
base_model_relation: merge
datasets: imdb
model-index:
- name: m
  results:
  - task: {type: text-classification}
    dataset: {name: IMDB, type: imdb, split: test}
    metrics:
    - {type: accuracy, value: 0.93}
    - {type: f1, value: 0.9}
co2_eq_emissions: {emissions: 12.5, source: codecarbon}
---
# m

## Training hyperparameters

The following hyperparameters were used during training:
- learning_rate: 5e-05
- train_batch_size: 8
- optimizer: Adam with betas=(0.9,0.999) and epsilon=1e-08
- num_epochs: 3

### Framework versions

- Transformers 4.38.2
- Pytorch 2.2.1

## Bias, Risks, and Limitations

Trained on movie reviews only.
`))
	if len(c.Warnings) > 0 {
		t.Fatal(c.Warnings)
	}
	if strings.Join(c.BaseModels, ",") != "a/b,c/d" || c.BaseModelRelation != "merge" || strings.Join(c.Datasets, ",") != "imdb" {
		t.Errorf("base %v %q datasets %v", c.BaseModels, c.BaseModelRelation, c.Datasets)
	}
	if c.LicenseName != "my-licence" || strings.Join(c.License, ",") != "other" {
		t.Errorf("licence %v %q", c.License, c.LicenseName)
	}
	if len(c.Results) != 2 || c.Results[0].Value != "0.93" || c.Results[0].DatasetType != "imdb" || c.Results[0].DatasetSplit != "test" {
		t.Errorf("results %+v", c.Results)
	}
	want := []KV{{"learning_rate", "5e-05"}, {"train_batch_size", "8"}, {"optimizer", "Adam with betas=(0.9,0.999) and epsilon=1e-08"}, {"num_epochs", "3"}}
	if len(c.TrainingHyperparameters) != len(want) {
		t.Fatalf("hyperparameters %v", c.TrainingHyperparameters)
	}
	for i := range want {
		if c.TrainingHyperparameters[i] != want[i] {
			t.Errorf("hyperparameter %d = %v, want %v", i, c.TrainingHyperparameters[i], want[i])
		}
	}
	if len(c.FrameworkVersions) != 2 || c.FrameworkVersions[0] != (KV{"Transformers", "4.38.2"}) {
		t.Errorf("frameworks %v", c.FrameworkVersions)
	}
	if c.Limitations != "Trained on movie reviews only." {
		t.Errorf("limitations %q", c.Limitations)
	}
	if c.CO2 == nil || c.CO2.Emissions != "12.5" || c.CO2.Source != "codecarbon" {
		t.Errorf("co2 %+v", c.CO2)
	}
}

// Hostile cards end in a warning, quickly, with the front matter ignored.
func TestParse_Hostile(t *testing.T) {
	bomb := "---\na: &a [x,x,x,x,x,x,x,x,x,x]\n"
	prev := "a"
	for i := 0; i < 12; i++ {
		n := string(rune('b' + i))
		bomb += n + ": &" + n + " [*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + "]\n"
		prev = n
	}
	bomb += "license: mit\n---\nbody\n"
	for _, tc := range []struct {
		name, card, warning string
	}{
		{"anchor bomb", bomb, "alias bomb"},
		{"huge front matter", "---\nx: '" + strings.Repeat("a", MaxFrontMatterBytes) + "'\n---\n", "over the"},
		{"huge card", "---\nlicense: mit\n---\n" + strings.Repeat("a", MaxCardBytes), "over the"},
		{"bad UTF-8 in front matter", "---\nlicense: \xff\xfe\n---\n", "UTF-8"},
		{"deep flow nesting", "---\nx: " + strings.Repeat("[", 100000) + "\n---\n", "levels deep"},
		{"deep block nesting", "---\n" + deepBlock(200) + "---\n", "ignored"},
		{"not YAML", "---\n: : :\n\t- [\n---\n", "not valid YAML"},
		{"not a mapping", "---\n- a\n- b\n---\n", "not a mapping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			c := Parse([]byte(tc.card))
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
			if len(c.Warnings) == 0 || !strings.Contains(strings.Join(c.Warnings, "; "), tc.warning) {
				t.Errorf("warnings %q, want one about %q", c.Warnings, tc.warning)
			}
			if len(c.License) != 0 {
				t.Errorf("licence read from a rejected front matter: %v", c.License)
			}
		})
	}
}

func deepBlock(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(strings.Repeat(" ", i) + "k:\n")
	}
	return b.String()
}

func TestParse_BadUTF8Body(t *testing.T) {
	c := Parse([]byte("---\nlicense: mit\n---\n# t\n\n## Limitations\n\nbad \xff bytes here\n"))
	if strings.Join(c.License, "") != "mit" || !strings.Contains(c.Limitations, "\uFFFD") || len(c.Warnings) != 1 {
		t.Errorf("licence %v limitations %q warnings %v", c.License, c.Limitations, c.Warnings)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("---\nlicense: mit\ndatasets: [a]\nmodel-index: [{name: x, results: [{metrics: [{type: a, value: 1}]}]}]\n---\n## Training hyperparameters\n- lr: 1\n"))
	f.Add([]byte("---\na: &a [1]\nb: [*a, *a]\n---\n"))
	f.Add([]byte("no front matter\n# title\ntext"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := Parse(b)
		if c == nil || c.Meta == nil {
			t.Fatal("nil card")
		}
	})
}
