package bom

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/aigis-dev/aigis/internal/bom/card"
	"github.com/aigis-dev/aigis/internal/bom/dataset"
	"github.com/aigis-dev/aigis/internal/bom/hfconfig"
	"github.com/aigis-dev/aigis/internal/bom/license"
	"github.com/aigis-dev/aigis/internal/deps"
	"github.com/aigis-dev/aigis/internal/osvdb"
	"github.com/aigis-dev/aigis/report"
)

func parseCard(b []byte) *card.Card { return card.Parse(b) }

// collect turns the walk into components. The weight files of models
// are described by the scan engine first (workers at a time).
func (t *tree) collect(ctx context.Context, workers int) {
	units := t.units()
	var weightFiles []string
	for _, e := range t.files {
		if u := owner(units, e.rel); u != nil && u.kind == KindModel && isWeightName(e.rel) {
			weightFiles = append(weightFiles, e.rel)
		}
	}
	t.describe(ctx, weightFiles, workers)
	comps := make([]*Component, len(units))
	for i, u := range units {
		switch u.kind {
		case KindModel:
			comps[i] = t.model(u)
		case KindDataset:
			comps[i] = t.dataset(u)
		}
		t.register(comps[i])
	}
	var projectFiles []*File
	for _, e := range t.files {
		f := &File{Path: e.rel, Size: e.size}
		if u := owner(units, e.rel); u != nil {
			c := comps[unitIndex(units, u)]
			f.Format, f.Weights = t.fileFormat(c, e.rel)
			c.Files = append(c.Files, f)
		} else {
			f.Format = roleOf(e.rel)
			projectFiles = append(projectFiles, f)
		}
	}
	for _, c := range comps {
		if c.Kind == KindModel {
			t.weightFacts(c)
			inferRelations(c)
		}
	}
	libs := t.libraries(ctx)

	// The subject: the one model or dataset the target is, or a project.
	var subject *Component
	if len(comps) == 1 && comps[0].Path == "." && len(projectFiles) == 0 {
		subject = comps[0]
	} else {
		subject = &Component{Ref: "project:" + t.name(), Kind: KindProject, Name: t.name(), Local: true, Path: ".", Files: projectFiles}
		t.register(subject)
		for _, c := range comps {
			t.relate(subject.Ref, Contains, c.Ref)
		}
	}
	for _, l := range libs {
		t.relate(subject.Ref, DependsOn, l.Ref)
	}
	t.doc.Subject = subject
}

func unitIndex(units []unit, u *unit) int {
	for i := range units {
		if &units[i] == u {
			return i
		}
	}
	return -1
}

func (t *tree) register(c *Component) *Component {
	if old, ok := t.byRef[c.Ref]; ok {
		return old
	}
	t.byRef[c.Ref] = c
	return c
}

func (t *tree) relate(from string, typ RelType, to string) {
	if from == to {
		return
	}
	for _, r := range t.doc.Relations {
		if r == (Relation{from, typ, to}) {
			return
		}
	}
	t.doc.Relations = append(t.doc.Relations, Relation{from, typ, to})
}

// name is the target's name: its directory or file base name.
func (t *tree) name() string {
	if t.single != "" {
		return t.single
	}
	abs, err := filepath.Abs(t.target)
	if err != nil {
		return filepath.Base(t.target)
	}
	return filepath.Base(abs)
}

// unitName names a unit: its directory, or for a per-file model its file.
func (t *tree) unitName(u unit) string {
	if u.files != nil {
		return path.Base(shardBase(u.files[0]))
	}
	if u.dir == "." {
		return t.name()
	}
	return path.Base(u.dir)
}

func shardBase(rel string) string {
	if m := shardPattern().FindStringSubmatch(path.Base(rel)); m != nil {
		return path.Join(path.Dir(rel), m[1]+m[2])
	}
	return rel
}

func localRef(kind Kind, u unit, name string) string {
	p := u.dir
	if u.files != nil {
		p = shardBase(u.files[0])
	}
	if p == "." {
		p = name
	}
	return string(kind) + ":local/" + p
}

// isHubID reports whether id is a Hub repository id: "name" or
// "namespace/name", each part 1-96 characters of [A-Za-z0-9._-] starting
// with a letter or digit. (A regexp with {0,95} costs a millisecond and
// 200 KB at every start of the binary.)
func isHubID(id string) bool {
	ns, name, two := strings.Cut(id, "/")
	if !hubPart(ns) {
		return false
	}
	return !two || hubPart(name)
}

func hubPart(s string) bool {
	if len(s) == 0 || len(s) > 96 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

var commitSHA = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{40}$`) })

// cacheLayout recognises a Hugging Face cache snapshot
// (.../models--ns--name/snapshots/<commit>) and returns the repo id and
// revision.
func cacheLayout(abs string) (kind, id, rev string) {
	parts := strings.Split(filepath.ToSlash(abs), "/")
	for i := 0; i+2 < len(parts); i++ {
		p := parts[i]
		if parts[i+1] != "snapshots" {
			continue
		}
		for _, k := range []string{"models", "datasets"} {
			if rest, ok := strings.CutPrefix(p, k+"--"); ok {
				id = strings.Replace(rest, "--", "/", 1)
				if isHubID(id) && commitSHA().MatchString(parts[i+2]) {
					return k, id, parts[i+2]
				}
			}
		}
	}
	return "", "", ""
}

func (t *tree) identify(c *Component, u unit) {
	abs, err := filepath.Abs(filepath.Join(t.rootDir, filepath.FromSlash(u.dir)))
	if err != nil {
		return
	}
	kind, id, rev := cacheLayout(abs)
	if id == "" || (kind == "models") != (c.Kind == KindModel) {
		return
	}
	ns, name, ok := strings.Cut(id, "/")
	if !ok {
		ns, name = "", id
	}
	c.Name, c.Group, c.Version = name, ns, rev
	if c.Kind == KindModel {
		c.PURL = hubPURL(id, rev)
		c.Links = append(c.Links, Link{"distribution", "https://huggingface.co/" + id})
	} else {
		c.Links = append(c.Links, Link{"distribution", "https://huggingface.co/datasets/" + id})
	}
}

// hubPURL is pkg:huggingface/<namespace>/<name>@<revision>.
func hubPURL(id, rev string) string {
	p := "pkg:huggingface/" + strings.ToLower(id)
	if rev != "" {
		p += "@" + rev
	}
	return p
}

func (t *tree) readCard(dir string) *card.Card {
	for _, name := range []string{"README.md", "readme.md", "README.MD"} {
		rel := path.Join(dir, name)
		if _, ok := t.fileAt(rel); !ok {
			continue
		}
		b, err := t.readSmall(rel)
		if err != nil {
			t.warnf("%s: %v; card not read", rel, err)
			return nil
		}
		c := card.Parse(b)
		for _, w := range c.Warnings {
			t.warnf("%s: %s", rel, w)
		}
		return c
	}
	return nil
}

func (t *tree) fileAt(rel string) (entry, bool) {
	for _, e := range t.dirs[path.Dir(rel)] {
		if e.rel == rel {
			return e, true
		}
	}
	return entry{}, false
}

// readJSON reads a config file if present; ok is false when absent or
// unreadable (a warning says which).
func (t *tree) readJSON(dir, name string) ([]byte, string, bool) {
	rel := path.Join(dir, name)
	if _, ok := t.fileAt(rel); !ok {
		return nil, rel, false
	}
	b, err := t.readSmall(rel)
	if err != nil {
		t.warnf("%s: %v; not read", rel, err)
		return nil, rel, false
	}
	return b, rel, true
}

func (t *tree) model(u unit) *Component {
	name := t.unitName(u)
	c := &Component{Ref: localRef(KindModel, u, name), Kind: KindModel, Name: name, Local: true, Path: u.dir, Model: &Model{}}
	if u.files != nil {
		c.Path = shardBase(u.files[0])
	}
	t.identify(c, u)
	m := c.Model
	if u.files == nil {
		if cd := t.readCard(u.dir); cd != nil {
			c.Card = cd
			t.fromModelCard(c, cd)
		}
		t.fromConfigs(c, u.dir)
	}
	if m.Adapter != nil {
		m.TuneMethod = strings.ToLower(m.Adapter.PeftType)
	}
	return c
}

// inferRelations fills base_model_relation the way the Hub does when a
// card leaves it out: adapter when there is a PEFT config, quantized for
// GGUF or quantised weights, merge for several bases, else finetune.
func inferRelations(c *Component) {
	m := c.Model
	for i := range m.BaseModels {
		if m.BaseModels[i].Relation != "" {
			continue
		}
		switch {
		case m.Adapter != nil:
			m.BaseModels[i].Relation = "adapter"
		case m.Quantization != "" || slices.Contains(m.Formats, "gguf"):
			m.BaseModels[i].Relation = "quantized"
		case len(m.BaseModels) > 1:
			m.BaseModels[i].Relation = "merge"
		default:
			m.BaseModels[i].Relation = "finetune"
		}
		m.BaseModels[i].Source += " (relation inferred)"
	}
}

func (t *tree) fromModelCard(c *Component, cd *card.Card) {
	m := c.Model
	m.Task, m.Library = cd.PipelineTag, cd.LibraryName
	m.Languages, m.Tags = cd.Languages, cd.Tags
	m.Limitations, m.IntendedUses, m.CO2 = cd.Limitations, cd.IntendedUses, cd.CO2
	m.FrameworkVersions = kvs(cd.FrameworkVersions)
	if cd.Description != "" {
		c.Description = cd.Description
	}
	c.Licenses = licences(cd)
	for _, ds := range cd.Datasets {
		if ref := t.hubDataset(ds); ref != "" {
			m.Datasets = append(m.Datasets, ref)
			t.relate(c.Ref, TrainedOn, ref)
		}
	}
	for _, b := range cd.BaseModels {
		t.addBase(c, b, cd.BaseModelRelation, "README.md base_model")
	}
	for _, h := range cd.TrainingHyperparameters {
		m.Training = append(m.Training, Setting{h.Key, h.Value, "README.md"})
	}
	for _, r := range cd.Results {
		met := Metric{Type: r.MetricType, Name: r.MetricName, Value: r.Value, Split: r.DatasetSplit, Task: r.TaskType}
		id := r.DatasetType
		if id == "" {
			id = r.DatasetName
		}
		if ref := t.hubDataset(id); ref != "" {
			met.Dataset = ref
			t.relate(c.Ref, TestedOn, ref)
		}
		m.Metrics = append(m.Metrics, met)
	}
	if cd.ModelName != "" && cd.ModelName != c.Name {
		c.Properties = append(c.Properties, Property{"aigis:model:card-name", cd.ModelName})
	}
}

func kvs(in []card.KV) []KV {
	out := make([]KV, len(in))
	for i, k := range in {
		out[i] = KV{k.Key, k.Value}
	}
	return out
}

func licences(cd *card.Card) []license.Info {
	var out []license.Info
	for _, l := range cd.License {
		out = append(out, license.Lookup(l, cd.LicenseName, cd.LicenseLink))
	}
	if len(out) == 0 && cd.LicenseName != "" {
		out = append(out, license.Lookup("other", cd.LicenseName, cd.LicenseLink))
	}
	return out
}

// hubDataset registers a dataset named on a card and returns its ref.
func (t *tree) hubDataset(id string) string {
	id = strings.TrimSpace(id)
	if rest, ok := strings.CutPrefix(id, "extended|"); ok {
		id = rest
	}
	if !isHubID(id) || id == "original" {
		return ""
	}
	ref := "dataset:hf/" + id
	if _, ok := t.byRef[ref]; !ok {
		ns, name, ok := strings.Cut(id, "/")
		if !ok {
			ns, name = "", id
		}
		t.register(&Component{Ref: ref, Kind: KindDataset, Name: name, Group: ns, Dataset: &Dataset{},
			Links: []Link{{"distribution", "https://huggingface.co/datasets/" + id}}})
	}
	return ref
}

// hubModel registers a model named on a card or config and returns its
// ref; "" for names that are not Hub ids (local paths, URLs we cannot
// read).
func (t *tree) hubModel(id string) string {
	id = strings.TrimSpace(id)
	id = strings.TrimPrefix(id, "https://huggingface.co/")
	id = strings.TrimSuffix(id, "/")
	if !isHubID(id) {
		return ""
	}
	ref := "model:hf/" + id
	if _, ok := t.byRef[ref]; !ok {
		ns, name, ok := strings.Cut(id, "/")
		if !ok {
			ns, name = "", id
		}
		t.register(&Component{Ref: ref, Kind: KindModel, Name: name, Group: ns, PURL: hubPURL(id, ""), Model: &Model{},
			Links: []Link{{"distribution", "https://huggingface.co/" + id}}})
	}
	return ref
}

func (t *tree) addBase(c *Component, id, relation, source string) {
	ref := t.hubModel(id)
	if ref == "" {
		if strings.TrimSpace(id) != "" {
			t.warnf("%s: base model %q is not a Hub id; not recorded", c.Path, id)
		}
		return
	}
	for i, b := range c.Model.BaseModels {
		if b.Ref == ref {
			if b.Relation == "" {
				c.Model.BaseModels[i].Relation = relation
			}
			return
		}
	}
	c.Model.BaseModels = append(c.Model.BaseModels, BaseModel{Ref: ref, Relation: relation, Source: source})
	t.relate(ref, AncestorOf, c.Ref)
	if relation == "adapter" {
		t.relate(c.Ref, DependsOn, ref)
	}
}

func (t *tree) fromConfigs(c *Component, dir string) {
	m := c.Model
	if b, rel, ok := t.readJSON(dir, "config.json"); ok {
		if cfg, err := hfconfig.ParseModelConfig(b); err != nil {
			t.warnf("%s: %v; not read", rel, err)
		} else {
			m.Family = cfg.ModelType
			if len(cfg.Architectures) > 0 {
				m.Architecture = cfg.Architectures[0]
			}
			m.Hyper = append(m.Hyper, toKV(cfg.Hyper)...)
			m.Quantization = cfg.Quantization
			m.RemoteCode = cfg.RemoteCode
			if cfg.DType != "" {
				m.Hyper = append(m.Hyper, KV{"torch_dtype", cfg.DType})
			}
		}
	}
	if b, rel, ok := t.readJSON(dir, "adapter_config.json"); ok {
		if a, err := hfconfig.ParseAdapterConfig(b); err != nil {
			t.warnf("%s: %v; not read", rel, err)
		} else {
			m.Adapter = a
			if m.Task == "" {
				m.Task = taskOfPEFT(a.TaskType)
			}
			if a.BaseModel != "" {
				t.addBase(c, a.BaseModel, "adapter", "adapter_config.json base_model_name_or_path")
			}
		}
	}
	if b, rel, ok := t.readJSON(dir, "training_args.json"); ok {
		if args, err := hfconfig.ParseTrainingArgs(b); err != nil {
			t.warnf("%s: %v; not read", rel, err)
		} else {
			for _, a := range args {
				m.Training = append(m.Training, Setting{a.Key, a.Value, "training_args.json"})
			}
		}
	}
	if b, rel, ok := t.readJSON(dir, "trainer_state.json"); ok {
		if st, err := hfconfig.ParseTrainerState(b); err != nil {
			t.warnf("%s: %v; not read", rel, err)
		} else {
			for _, a := range st {
				m.Training = append(m.Training, Setting{a.Key, a.Value, "trainer_state.json"})
			}
		}
	}
	if b, rel, ok := t.readJSON(dir, "generation_config.json"); ok {
		if g, err := hfconfig.ParseGenerationConfig(b); err != nil {
			t.warnf("%s: %v; not read", rel, err)
		} else {
			m.Generation = toKV(g)
		}
	}
	if _, ok := t.fileAt(path.Join(dir, "training_args.bin")); ok {
		c.Properties = append(c.Properties, Property{"aigis:training:args-pickle", path.Join(dir, "training_args.bin") + " (a pickle; never loaded, use --scan)"})
	}
}

func toKV(in []hfconfig.KV) []KV {
	out := make([]KV, len(in))
	for i, k := range in {
		out[i] = KV{k.Key, k.Value}
	}
	return out
}

// taskOfPEFT maps PEFT task types to Hub pipeline tags.
func taskOfPEFT(tt string) string {
	switch tt {
	case "CAUSAL_LM":
		return "text-generation"
	case "SEQ_CLS":
		return "text-classification"
	case "SEQ_2_SEQ_LM":
		return "text2text-generation"
	case "TOKEN_CLS":
		return "token-classification"
	case "QUESTION_ANS":
		return "question-answering"
	case "FEATURE_EXTRACTION":
		return "feature-extraction"
	}
	return ""
}

// fileFormat names a component file: the format the scan engine reads in
// a model's weight file (weights is then true), or a data format or role.
func (t *tree) fileFormat(c *Component, rel string) (format string, weights bool) {
	if c.Kind == KindModel && isWeightName(rel) {
		if a := t.arts[rel]; a != nil {
			return a.Format, true
		}
		return "", true
	}
	if f := dataset.FormatOf(rel); f != "" {
		return f, false
	}
	return roleOf(rel), false
}

func roleOf(rel string) string {
	base := strings.ToLower(path.Base(rel))
	switch {
	case base == "readme.md":
		return "card"
	case strings.HasPrefix(base, "tokenizer") || base == "vocab.txt" || base == "vocab.json" || base == "merges.txt" || base == "special_tokens_map.json" || strings.HasSuffix(base, ".model") && strings.Contains(base, "sentencepiece"):
		return "tokenizer"
	case base == "training_args.bin":
		return "training-args-pickle"
	case strings.HasSuffix(base, ".json") || strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml"):
		return "config"
	case strings.HasSuffix(base, ".py"):
		return "code"
	case base == "license" || strings.HasPrefix(base, "license."):
		return "license"
	}
	return "other"
}

// weightFacts gathers what the scan engine read in the headers of a
// model's weight files: formats, parameters, dtypes, quantisation,
// architecture, licence, base models and other header facts.
func (t *tree) weightFacts(c *Component) {
	m := c.Model
	formats := map[string]bool{}
	params := map[string]int64{}
	dtypes := map[string]bool{}
	quant := map[string]bool{}
	for _, f := range c.Files {
		if !f.Weights || f.Format == "" {
			continue
		}
		formats[f.Format] = true
		a := t.arts[f.Path]
		facts := a.Model
		if why := headerProblem(a); why != "" && (facts == nil || facts.Parameters == 0) {
			t.warnf("%s: %s; parameters not counted", f.Path, why)
		}
		if facts == nil {
			continue
		}
		params[f.Format] += facts.Parameters
		for _, d := range facts.DTypes {
			dtypes[d] = true
		}
		if facts.Quantization != "" {
			quant[facts.Quantization] = true
		}
		if m.Family == "" {
			m.Family = facts.Architecture
		}
		for _, kv := range facts.Meta {
			m.HeaderFacts = append(m.HeaderFacts, headerFact(f.Format, kv.Key, kv.Value))
		}
		if facts.ChatTemplate {
			m.HeaderFacts = append(m.HeaderFacts, headerFact(f.Format, "chat_template", "present"))
		}
		if facts.License != "" && len(c.Licenses) == 0 {
			c.Licenses = []license.Info{license.Lookup(facts.License, "", "")}
		}
		for _, b := range facts.BaseModels {
			t.addBase(c, b, "", f.Format+" header")
		}
		if facts.Name != "" && facts.Name != c.Name {
			c.Properties = append(c.Properties, Property{"aigis:model:" + f.Format + "-name", facts.Name})
		}
	}
	m.HeaderFacts = dedupeKV(m.HeaderFacts)
	m.Formats = sortedSet(formats)
	m.DTypes = sortedSet(dtypes)
	if m.Quantization == "" {
		m.Quantization = strings.Join(sortedSet(quant), ",")
	}
	// One count, from the format the model is published in: shards are
	// summed; copies of the same weights in other formats are not.
	order := []string{"safetensors", "gguf", "onnx"}
	for _, f := range sortedSet(formats) {
		if !slices.Contains(order, f) {
			order = append(order, f)
		}
	}
	for _, fmtName := range order {
		if params[fmtName] > 0 {
			m.Parameters, m.ParamSource = params[fmtName], fmtName+" headers"
			break
		}
	}
	for _, f := range c.Files {
		if strings.HasSuffix(f.Path, ".index.json") {
			if b, err := t.readSmall(f.Path); err == nil {
				if ix, err := hfconfig.ParseIndex(b); err == nil {
					t.checkShards(c, f.Path, ix)
					if m.Parameters == 0 && ix.TotalParameters > 0 {
						m.Parameters, m.ParamSource = ix.TotalParameters, path.Base(f.Path)
					}
				} else {
					t.warnf("%s: %v", f.Path, err)
				}
			}
		}
	}
}

// headerProblem is why the engine could not read a file completely (its
// first invalid or inconclusive finding), or "".
func headerProblem(a *report.Artifact) string {
	if a.Verdict != report.Invalid && a.Verdict != report.Inconclusive {
		return ""
	}
	for _, fd := range a.Findings {
		if fd.Verdict == a.Verdict {
			return fd.Message
		}
	}
	return a.Verdict.String()
}

// headerFact names a header fact: hyperparameters the CycloneDX taxonomy
// names keep their name (GGUF context_length, hidden_size); anything
// else is qualified by the format (onnx_producer, safetensors_format).
func headerFact(format, key, value string) KV {
	if officialHyper[key] {
		return KV{key, value}
	}
	return KV{format + "_" + key, value}
}

// checkShards warns when a shard index names files that are not there.
func (t *tree) checkShards(c *Component, indexRel string, ix *hfconfig.Index) {
	dir := path.Dir(indexRel)
	for _, s := range ix.Shards {
		if _, ok := t.fileAt(path.Join(dir, s)); !ok {
			t.warnf("%s names shard %s, which is missing", indexRel, s)
		}
	}
	c.Properties = append(c.Properties, Property{"aigis:model:shards", strconv.Itoa(len(ix.Shards))})
}

func dedupeKV(in []KV) []KV {
	seen := map[KV]bool{}
	var out []KV
	for _, kv := range in {
		if !seen[kv] {
			seen[kv] = true
			out = append(out, kv)
		}
	}
	return out
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func (t *tree) dataset(u unit) *Component {
	name := t.unitName(u)
	c := &Component{Ref: localRef(KindDataset, u, name), Kind: KindDataset, Name: name, Local: true, Path: u.dir, Dataset: &Dataset{}}
	t.identify(c, u)
	if cd := t.readCard(u.dir); cd != nil {
		c.Card = cd
		d := c.Dataset
		c.Licenses = licences(cd)
		d.TaskCategories, d.SizeCategories, d.Languages = cd.TaskCategories, cd.SizeCategories, cd.Languages
		if cd.PrettyName != "" && cd.PrettyName != c.Name {
			c.Properties = append(c.Properties, Property{"aigis:dataset:pretty-name", cd.PrettyName})
		}
		if cd.Description != "" {
			c.Description = cd.Description
		}
		for _, s := range cd.SourceDatasets {
			if ref := t.hubDataset(s); ref != "" {
				d.Sources = append(d.Sources, ref)
				t.relate(ref, AncestorOf, c.Ref)
			}
		}
	}
	return c
}

// libraries reads every dependency manifest in the tree.
func (t *tree) libraries(ctx context.Context) []*Component {
	type key struct{ eco, name string }
	locked := map[key]bool{}
	var unlocked []struct {
		p   deps.Package
		rel string
	}
	var out []*Component
	for _, e := range t.files {
		mf := deps.ExtractFile(ctx, t.root, t.rootDir, filepath.FromSlash(e.rel), e.info)
		if mf == nil {
			continue
		}
		if mf.Err != nil {
			t.warnf("%s: %v; its packages are not listed", e.rel, mf.Err)
			continue
		}
		for _, p := range mf.Packages {
			k := key{p.Ecosystem, osvdb.NormalizeName(p.Ecosystem, p.Name)}
			if p.PURL == "" {
				unlocked = append(unlocked, struct {
					p   deps.Package
					rel string
				}{p, e.rel})
				continue
			}
			locked[k] = true
			_, seen := t.byRef[p.PURL]
			c := t.register(&Component{Ref: p.PURL, Kind: KindLibrary, Name: p.Name, Version: p.Version, PURL: p.PURL, Local: true,
				Library: &Library{Ecosystem: p.Ecosystem}})
			if !slices.Contains(c.Library.Manifests, e.rel) {
				c.Library.Manifests = append(c.Library.Manifests, e.rel)
			}
			if !seen {
				out = append(out, c)
			}
		}
	}
	for _, u := range unlocked {
		p := u.p
		if locked[key{p.Ecosystem, osvdb.NormalizeName(p.Ecosystem, p.Name)}] {
			continue
		}
		ref := fmt.Sprintf("library:%s/%s", strings.ToLower(p.Ecosystem), osvdb.NormalizeName(p.Ecosystem, p.Name))
		_, seen := t.byRef[ref]
		c := t.register(&Component{Ref: ref, Kind: KindLibrary, Name: p.Name, Local: true,
			Library: &Library{Ecosystem: p.Ecosystem, Requirement: p.Requirement}})
		if !slices.Contains(c.Library.Manifests, u.rel) {
			c.Library.Manifests = append(c.Library.Manifests, u.rel)
		}
		if !seen {
			out = append(out, c)
		}
	}
	return out
}
