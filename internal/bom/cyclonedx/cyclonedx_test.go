package cyclonedx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aigis-dev/aigis/internal/bom"
	"github.com/aigis-dev/aigis/internal/bom/cyclonedx"
	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/cdxschema"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var pinned = cyclonedx.Options{Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Serial: "11111111-2222-4333-8444-555555555555", ToolVersion: "test", Reproducible: true}

func encode(t *testing.T, target string, version string, opt bom.Options) ([]byte, map[string]any) {
	t.Helper()
	d, err := bom.Build(context.Background(), target, opt)
	if err != nil {
		t.Fatal(err)
	}
	o := pinned
	o.SpecVersion = version
	var b bytes.Buffer
	if err := cyclonedx.Encode(&b, d, o); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), m
}

// Every shared repository, dataset and project gives a document that the
// official 1.6 and 1.7 schemas accept.
func TestSchemaValid(t *testing.T) {
	var targets []string
	for _, dir := range []string{"corpus/repos", "corpus/datasets", "projects"} {
		root := testutil.Shared(t, strings.Split(dir, "/")...)
		entries, _ := os.ReadDir(root)
		for _, e := range entries {
			if e.IsDir() {
				targets = append(targets, filepath.Join(root, e.Name()))
			}
		}
	}
	targets = append(targets, testutil.Shared(t, "corpus", "repos", "tiny-bert", "model.safetensors"))
	for _, v := range cyclonedx.Versions() {
		for _, target := range targets {
			t.Run(v+"/"+filepath.Base(target), func(t *testing.T) {
				b, m := encode(t, target, v, bom.Options{})
				cdxschema.Validate(t, v, b)
				if m["specVersion"] != v {
					t.Errorf("specVersion %v", m["specVersion"])
				}
			})
		}
	}
}

func components(m map[string]any) []map[string]any {
	var out []map[string]any
	if md, ok := m["metadata"].(map[string]any); ok {
		if c, ok := md["component"].(map[string]any); ok {
			out = append(out, c)
		}
	}
	for _, c := range list(m["components"]) {
		out = append(out, c.(map[string]any))
	}
	return out
}

func list(v any) []any { l, _ := v.([]any); return l }

func byRef(m map[string]any, ref string) map[string]any {
	for _, c := range components(m) {
		if c["bom-ref"] == ref {
			return c
		}
	}
	return nil
}

func props(v any) map[string][]string {
	out := map[string][]string{}
	for _, p := range list(v) {
		pm := p.(map[string]any)
		s, _ := pm["value"].(string)
		out[pm["name"].(string)] = append(out[pm["name"].(string)], s)
	}
	return out
}

func one(t *testing.T, p map[string][]string, name, want string) {
	t.Helper()
	if got := p[name]; len(got) != 1 || got[0] != want {
		t.Errorf("property %s = %q, want %q", name, got, want)
	}
}

// The acceptance criteria for ../shared/corpus/repos/tiny-bert.
func TestTinyBert(t *testing.T) {
	dir := testutil.Shared(t, "corpus", "repos", "tiny-bert")
	_, m := encode(t, dir, "1.6", bom.Options{})
	model := m["metadata"].(map[string]any)["component"].(map[string]any)
	if model["type"] != "machine-learning-model" || model["name"] != "tiny-bert" {
		t.Fatalf("subject = %v %v", model["type"], model["name"])
	}
	mc := model["modelCard"].(map[string]any)
	mp := mc["modelParameters"].(map[string]any)
	if mp["task"] != "text-classification" || mp["architectureFamily"] != "bert" || mp["modelArchitecture"] != "BertForSequenceClassification" {
		t.Errorf("modelParameters = %v", mp)
	}
	p := props(mc["properties"])
	one(t, p, "cdx:ai-ml:model:hyperparameter:hidden_size", "32")
	one(t, p, "cdx:ai-ml:model:hyperparameter:num_hidden_layers", "2")
	// 100x32 word + 512x32 position + 2x32 type embeddings, 2 layers,
	// pooler and classifier: the sum of the header shapes.
	one(t, p, "cdx:ai-ml:model:parameter:count", "37922")
	one(t, p, "cdx:ai-ml:model:hyperparameter:_undefined:training_learning_rate", "2e-05")
	one(t, p, "cdx:ai-ml:model:hyperparameter:_undefined:training_num_train_epochs", "3")
	one(t, p, "cdx:ai-ml:model:hyperparameter:_undefined:training_per_device_train_batch_size", "32")
	var ds []string
	for _, d := range list(mp["datasets"]) {
		ds = append(ds, d.(map[string]any)["ref"].(string))
	}
	if strings.Join(ds, ",") != "dataset:hf/imdb,dataset:hf/stanfordnlp/sst2" {
		t.Errorf("datasets = %v", ds)
	}
	for _, ref := range ds {
		c := byRef(m, ref)
		if c == nil || c["type"] != "data" {
			t.Errorf("%s is not a data component: %v", ref, c)
		}
	}
	deps := map[string][]string{}
	for _, d := range list(m["dependencies"]) {
		dm := d.(map[string]any)
		for _, on := range list(dm["dependsOn"]) {
			deps[dm["ref"].(string)] = append(deps[dm["ref"].(string)], on.(string))
		}
	}
	if strings.Join(deps["model:local/tiny-bert"], ",") != "dataset:hf/imdb,dataset:hf/stanfordnlp/sst2" {
		t.Errorf("model dependencies = %v", deps["model:local/tiny-bert"])
	}
	anc := list(model["pedigree"].(map[string]any)["ancestors"])
	if len(anc) != 1 || anc[0].(map[string]any)["purl"] != "pkg:huggingface/google-bert/bert-base-uncased" {
		t.Errorf("pedigree ancestors = %v", anc)
	}
	lic := list(model["licenses"])
	if len(lic) != 1 || lic[0].(map[string]any)["license"].(map[string]any)["id"] != "Apache-2.0" {
		t.Errorf("licenses = %v", lic)
	}
	pm := list(mc["quantitativeAnalysis"].(map[string]any)["performanceMetrics"])
	if len(pm) != 1 || pm[0].(map[string]any)["type"] != "accuracy" || pm[0].(map[string]any)["value"] != "0.91" {
		t.Errorf("performance metrics = %v", pm)
	}
	// Training also goes to formulation.
	wf := list(list(m["formulation"])[0].(map[string]any)["workflows"])[0].(map[string]any)
	wp := props(wf["properties"])
	one(t, wp, "cdx:ai-ml:model:hyperparameter:_undefined:training_learning_rate", "2e-05")
	// Every file hashed, and the hashes are right.
	files := list(model["components"])
	entries, _ := os.ReadDir(dir)
	if len(files) != len(entries) {
		t.Fatalf("%d file components for %d files", len(files), len(entries))
	}
	for _, f := range files {
		fm := f.(map[string]any)
		h := list(fm["hashes"])
		if len(h) != 1 {
			t.Fatalf("%s: hashes %v", fm["name"], h)
		}
		hm := h[0].(map[string]any)
		if hm["alg"] != "SHA-256" || hm["content"] != testutil.SHA256File(t, filepath.Join(dir, fm["name"].(string))) {
			t.Errorf("%s: hash %v", fm["name"], hm)
		}
	}
}

func TestLoraAdapter(t *testing.T) {
	_, m := encode(t, testutil.Shared(t, "corpus", "repos", "lora-adapter"), "1.6", bom.Options{})
	model := m["metadata"].(map[string]any)["component"].(map[string]any)
	anc := list(model["pedigree"].(map[string]any)["ancestors"])
	if len(anc) != 1 || anc[0].(map[string]any)["purl"] != "pkg:huggingface/openai-community/gpt2" {
		t.Errorf("pedigree = %v", model["pedigree"])
	}
	if !strings.Contains(model["pedigree"].(map[string]any)["notes"].(string), "adapter of openai-community/gpt2") {
		t.Errorf("pedigree notes = %v", model["pedigree"])
	}
	p := props(model["modelCard"].(map[string]any)["properties"])
	one(t, p, "cdx:ai-ml:model:parameter:tune_method", "lora")
	one(t, p, "cdx:ai-ml:model:parameter:_undefined:lora_r", "2")
	one(t, p, "cdx:ai-ml:model:parameter:_undefined:lora_alpha", "8")
	one(t, p, "cdx:ai-ml:model:parameter:_undefined:target_modules", "c_attn")
	// The adapter cannot run without its base: a dependency edge.
	for _, d := range list(m["dependencies"]) {
		dm := d.(map[string]any)
		if dm["ref"] == "model:local/lora-adapter" {
			if on := list(dm["dependsOn"]); len(on) != 1 || on[0] != "model:hf/openai-community/gpt2" {
				t.Errorf("adapter depends on %v", on)
			}
		}
	}
}

func TestShardedIsOneModel(t *testing.T) {
	dir := testutil.Shared(t, "corpus", "repos", "tiny-gpt2-sharded")
	_, m := encode(t, dir, "1.7", bom.Options{})
	var models []map[string]any
	for _, c := range components(m) {
		if c["type"] == "machine-learning-model" && c["bom-ref"] != "model:hf/openai-community/gpt2" {
			models = append(models, c)
		}
	}
	if len(models) != 1 {
		t.Fatalf("%d local models", len(models))
	}
	shards := 0
	for _, f := range list(models[0]["components"]) {
		if strings.HasSuffix(f.(map[string]any)["name"].(string), ".safetensors") {
			shards++
		}
	}
	if shards != 7 {
		t.Errorf("%d shards in the model, want 7", shards)
	}
	p := props(models[0]["modelCard"].(map[string]any)["properties"])
	one(t, p, "cdx:ai-ml:model:parameter:count", "116992") // = the index's total_parameters
}

func TestReviewsDataset(t *testing.T) {
	_, m := encode(t, testutil.Shared(t, "corpus", "datasets", "reviews"), "1.6", bom.Options{})
	ds := m["metadata"].(map[string]any)["component"].(map[string]any)
	if ds["type"] != "data" {
		t.Fatalf("subject type %v", ds["type"])
	}
	if id := list(ds["licenses"])[0].(map[string]any)["license"].(map[string]any)["id"]; id != "CC-BY-NC-4.0" {
		t.Errorf("licence %v", id)
	}
	one(t, props(ds["properties"]), "aigis:license:restriction", "non-commercial")
	anc := list(ds["pedigree"].(map[string]any)["ancestors"])
	if len(anc) != 1 || anc[0].(map[string]any)["name"] != "imdb" {
		t.Errorf("source datasets %v", anc)
	}
	rows := map[string]string{}
	for _, d := range list(ds["data"]) {
		dm := d.(map[string]any)
		rows[dm["name"].(string)] = props(dm["contents"].(map[string]any)["properties"])["aigis:dataset:rows"][0]
	}
	if rows["train.parquet"] != "200" || rows["test.jsonl"] != "50" {
		t.Errorf("rows = %v", rows)
	}
}

// Same input, same bytes; the timestamp and serial are the only inputs
// that change them.
func TestDeterministic(t *testing.T) {
	dir := testutil.Shared(t, "corpus", "repos", "tiny-gpt2-sharded")
	a, _ := encode(t, dir, "1.6", bom.Options{})
	b, _ := encode(t, dir, "1.6", bom.Options{})
	if !bytes.Equal(a, b) {
		t.Fatal("two runs differ")
	}
}

// The golden files pin the whole mapping; regenerate with -update after
// an intended change and review the diff.
func TestGolden(t *testing.T) {
	for _, p := range []string{"corpus/repos/tiny-bert", "corpus/repos/lora-adapter", "corpus/repos/tiny-gpt2-sharded", "corpus/repos/remote-code-benign", "corpus/datasets/reviews"} {
		dir := testutil.Shared(t, strings.Split(p, "/")...)
		t.Run(filepath.Base(p), func(t *testing.T) {
			got, _ := encode(t, dir, "1.6", bom.Options{})
			testutil.Golden(t, filepath.Join("testdata", filepath.Base(p)+".cdx.json"), got, *update)
		})
	}
}
