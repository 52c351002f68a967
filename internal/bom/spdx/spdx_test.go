package spdx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aigis-dev/aigis/internal/bom"
	"github.com/aigis-dev/aigis/internal/bom/spdx"
	"github.com/aigis-dev/aigis/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func encode(t *testing.T, target string) []byte {
	t.Helper()
	d, err := bom.Build(context.Background(), target, bom.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := spdx.Encode(&b, d, spdx.Options{Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Serial: "11111111-2222-4333-8444-555555555555", ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type graph struct {
	byID  map[string]map[string]any
	elems []map[string]any
}

// check verifies the structure: every element has a type and an spdxId
// (the CreationInfo blank node has an @id), ids are unique,
// relationships point to elements of the document (or the NOASSERTION
// individual), and each AI or dataset package has exactly one declared
// and one concluded licence.
func check(t *testing.T, b []byte) *graph {
	t.Helper()
	var doc struct {
		Context string           `json:"@context"`
		Graph   []map[string]any `json:"@graph"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Context != spdx.Context {
		t.Errorf("@context %q", doc.Context)
	}
	g := &graph{byID: map[string]map[string]any{}, elems: doc.Graph}
	for _, e := range doc.Graph {
		typ, _ := e["type"].(string)
		if typ == "" {
			t.Errorf("element without type: %v", e)
		}
		if typ == "CreationInfo" {
			if e["@id"] != "_:creationinfo" || e["specVersion"] != "3.0.1" {
				t.Errorf("creation info %v", e)
			}
			continue
		}
		id, _ := e["spdxId"].(string)
		if id == "" {
			t.Errorf("%s without spdxId", typ)
		}
		if g.byID[id] != nil {
			t.Errorf("duplicate spdxId %s", id)
		}
		if e["creationInfo"] != "_:creationinfo" {
			t.Errorf("%s: creationInfo %v", id, e["creationInfo"])
		}
		g.byID[id] = e
	}
	exists := func(id string) bool { return g.byID[id] != nil || id == spdx.NoAssertionLicense }
	declared, concluded := map[string]int{}, map[string]int{}
	for _, e := range doc.Graph {
		switch e["type"] {
		case "Relationship":
			from, _ := e["from"].(string)
			if !exists(from) {
				t.Errorf("relationship from missing %s", from)
			}
			to, _ := e["to"].([]any)
			if len(to) == 0 {
				t.Errorf("relationship %s has no to", e["spdxId"])
			}
			for _, x := range to {
				if !exists(x.(string)) {
					t.Errorf("relationship %s to missing %s", e["relationshipType"], x)
				}
			}
			switch e["relationshipType"] {
			case "hasDeclaredLicense":
				declared[from] += len(to)
			case "hasConcludedLicense":
				concluded[from] += len(to)
			}
		case "SpdxDocument", "software_Sbom":
			for _, k := range []string{"rootElement", "element"} {
				for _, x := range e[k].([]any) {
					if !exists(x.(string)) {
						t.Errorf("%s %s names missing %s", e["type"], k, x)
					}
				}
			}
		case "Annotation":
			if !exists(e["subject"].(string)) {
				t.Errorf("annotation on missing %s", e["subject"])
			}
		}
	}
	for id, e := range g.byID {
		if e["type"] == "ai_AIPackage" || e["type"] == "dataset_DatasetPackage" {
			if declared[id] != 1 || concluded[id] != 1 {
				t.Errorf("%s: %d declared and %d concluded licences, want 1 and 1", id, declared[id], concluded[id])
			}
		}
		if e["type"] == "dataset_DatasetPackage" && len(e["dataset_datasetType"].([]any)) == 0 {
			t.Errorf("%s: no dataset_datasetType", id)
		}
	}
	return g
}

func (g *graph) named(typ, name string) map[string]any {
	for _, e := range g.elems {
		if e["type"] == typ && e["name"] == name {
			return e
		}
	}
	return nil
}

func (g *graph) rels(from, typ string) []string {
	var out []string
	for _, e := range g.elems {
		if e["type"] == "Relationship" && e["from"] == from && e["relationshipType"] == typ {
			for _, x := range e["to"].([]any) {
				out = append(out, x.(string))
			}
		}
	}
	return out
}

func TestStructure(t *testing.T) {
	for _, p := range []string{"corpus/repos/tiny-bert", "corpus/repos/lora-adapter", "corpus/repos/tiny-gpt2-sharded", "corpus/repos/remote-code-benign", "corpus/datasets/reviews", "projects/vulnerable-ml", "projects/kitops"} {
		t.Run(filepath.Base(p), func(t *testing.T) {
			check(t, encode(t, testutil.Shared(t, strings.Split(p, "/")...)))
		})
	}
}

func TestTinyBert(t *testing.T) {
	g := check(t, encode(t, testutil.Shared(t, "corpus", "repos", "tiny-bert")))
	m := g.named("ai_AIPackage", "tiny-bert")
	if m == nil {
		t.Fatal("no ai_AIPackage tiny-bert")
	}
	id := m["spdxId"].(string)
	var trained []string
	for _, to := range g.rels(id, "trainedOn") {
		trained = append(trained, g.byID[to]["name"].(string))
	}
	if strings.Join(trained, ",") != "imdb,stanfordnlp/sst2" {
		t.Errorf("trainedOn %v", trained)
	}
	if tested := g.rels(id, "testedOn"); len(tested) != 1 || g.byID[tested[0]]["name"] != "imdb" {
		t.Errorf("testedOn %v", tested)
	}
	base := g.named("ai_AIPackage", "google-bert/bert-base-uncased")
	if base == nil || strings.Join(g.rels(base["spdxId"].(string), "ancestorOf"), ",") != id {
		t.Errorf("base model ancestorOf missing")
	}
	lic := g.byID[g.rels(id, "hasDeclaredLicense")[0]]
	if lic["simplelicensing_licenseExpression"] != "Apache-2.0" || g.rels(id, "hasConcludedLicense")[0] != lic["spdxId"] {
		t.Errorf("licences %v", lic)
	}
	hp := map[string]string{}
	for _, h := range m["ai_hyperparameter"].([]any) {
		hm := h.(map[string]any)
		hp[hm["key"].(string)] = hm["value"].(string)
	}
	for k, v := range map[string]string{"hidden_size": "32", "num_hidden_layers": "2", "training_learning_rate": "2e-05", "training_num_train_epochs": "3", "training_per_device_train_batch_size": "32", "parameter_count": "37922"} {
		if hp[k] != v {
			t.Errorf("ai_hyperparameter %s = %q, want %q", k, hp[k], v)
		}
	}
	if met := m["ai_metric"].([]any); len(met) != 1 || met[0].(map[string]any)["value"] != "0.91" {
		t.Errorf("ai_metric %v", met)
	}
	files := g.rels(id, "contains")
	if len(files) != 5 {
		t.Errorf("%d files, want 5", len(files))
	}
	for _, f := range files {
		h := g.byID[f]["verifiedUsing"].([]any)[0].(map[string]any)
		if h["algorithm"] != "sha256" || len(h["hashValue"].(string)) != 64 {
			t.Errorf("file %s hash %v", g.byID[f]["name"], h)
		}
	}
}

func TestReviewsNonCommercial(t *testing.T) {
	g := check(t, encode(t, testutil.Shared(t, "corpus", "datasets", "reviews")))
	d := g.named("dataset_DatasetPackage", "reviews")
	id := d["spdxId"].(string)
	if g.byID[g.rels(id, "hasDeclaredLicense")[0]]["simplelicensing_licenseExpression"] != "CC-BY-NC-4.0" {
		t.Error("licence")
	}
	src := g.named("dataset_DatasetPackage", "imdb")
	if src == nil || g.rels(src["spdxId"].(string), "ancestorOf")[0] != id {
		t.Error("imdb is not recorded as the source")
	}
	if !strings.Contains(d["comment"].(string), "train.parquet (train): 200 rows") || !strings.Contains(d["comment"].(string), "test.jsonl (test): 50 rows") {
		t.Errorf("comment %q", d["comment"])
	}
}

func TestGolden(t *testing.T) {
	for _, p := range []string{"corpus/repos/tiny-bert", "corpus/repos/lora-adapter", "corpus/repos/tiny-gpt2-sharded", "corpus/datasets/reviews"} {
		dir := testutil.Shared(t, strings.Split(p, "/")...)
		t.Run(filepath.Base(p), func(t *testing.T) {
			got := encode(t, dir)
			testutil.Golden(t, filepath.Join("testdata", filepath.Base(p)+".spdx.json"), got, *update)
		})
	}
}
