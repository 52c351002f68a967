// Package spdx renders a bom.Document as SPDX 3.0.1 JSON-LD: models as
// ai_AIPackage, datasets as dataset_DatasetPackage, libraries and the
// project as software_Package, files as software_File with SHA-256, and
// the typed relationships trainedOn, testedOn, ancestorOf, dependsOn and
// contains. Every AI and dataset package gets exactly one
// hasDeclaredLicense and one hasConcludedLicense relationship (to
// NOASSERTION when there is nothing to say). Scan findings become review
// Annotations on the files.
//
// Elements and keys are written in a fixed order, so the same document,
// timestamp and serial give the same bytes. It only encodes.
package spdx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aigis-dev/aigis/internal/bom"
	"github.com/aigis-dev/aigis/internal/bom/license"
)

// Context is the JSON-LD context of SPDX 3.0.1.
const Context = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"

// NoAssertionLicense is the SPDX individual for "no assertion".
const NoAssertionLicense = "https://spdx.org/rdf/3.0.1/terms/Licensing/NoAssertion"

// Options control the document envelope.
type Options struct {
	Timestamp   time.Time
	Serial      string // a UUID; element ids are urn:uuid:<serial>#<local>
	ToolVersion string
}

// obj is a JSON object whose keys keep their insertion order.
type obj []field

type field struct {
	k string
	v any
}

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := marshal(f.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// set appends a field unless its value is empty.
func (o *obj) set(k string, v any) {
	switch x := v.(type) {
	case string:
		if x == "" {
			return
		}
	case []string:
		if len(x) == 0 {
			return
		}
	case []obj:
		if len(x) == 0 {
			return
		}
	}
	*o = append(*o, field{k, v})
}

type encoder struct {
	doc     *bom.Document
	base    string
	ids     map[string]string // bom ref -> spdxId
	used    map[string]bool
	graph   []obj
	members []string // elements of the SBOM
	rels    int
	lics    map[string]string // expression -> spdxId
}

var unsafeID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9._-]+`) })

func (e *encoder) id(local string) string {
	s := strings.Trim(unsafeID().ReplaceAllString(local, "-"), "-")
	if s == "" {
		s = "element"
	}
	id := e.base + s
	for n := 2; e.used[id]; n++ {
		id = e.base + s + "-" + strconv.Itoa(n)
	}
	e.used[id] = true
	return id
}

func (e *encoder) element(typ, id string) obj {
	return obj{{"type", typ}, {"spdxId", id}, {"creationInfo", "_:creationinfo"}}
}

// Encode writes d as SPDX 3.0.1 JSON-LD.
func Encode(w io.Writer, d *bom.Document, opt Options) error {
	e := &encoder{doc: d, base: "urn:uuid:" + opt.Serial + "#", ids: map[string]string{}, used: map[string]bool{}, lics: map[string]string{}}
	agent := e.id("aigis-agent")
	tool := e.id("aigis-tool")
	created := obj{{"type", "CreationInfo"}, {"@id", "_:creationinfo"}, {"specVersion", "3.0.1"},
		{"created", opt.Timestamp.UTC().Format(time.RFC3339)}, {"createdBy", []string{agent}}, {"createdUsing", []string{tool}}}
	agentEl := e.element("SoftwareAgent", agent)
	agentEl.set("name", "aigis")
	toolEl := e.element("Tool", tool)
	toolEl.set("name", strings.TrimSpace("aigis "+opt.ToolVersion))
	docID, sbomID := e.id("document"), e.id("sbom")
	for _, c := range d.All() {
		e.ids[c.Ref] = e.id(c.Ref)
	}
	for _, c := range d.All() {
		e.component(c)
	}
	for _, r := range d.Relations {
		e.relate(e.ids[r.From], string(r.Type), e.ids[r.To])
	}
	sbom := e.element("software_Sbom", sbomID)
	sbom.set("name", "AI bill of materials of "+d.Subject.Name)
	sbom.set("software_sbomType", []string{"analyzed"})
	sbom.set("rootElement", []string{e.ids[d.Subject.Ref]})
	sbom.set("element", e.members)
	docEl := e.element("SpdxDocument", docID)
	docEl.set("name", d.Subject.Name)
	if len(d.Warnings) > 0 {
		docEl.set("comment", "warnings: "+strings.Join(d.Warnings, "; "))
	}
	docEl.set("profileConformance", []string{"core", "software", "simpleLicensing", "ai", "dataset"})
	docEl.set("rootElement", []string{sbomID})
	docEl.set("element", append([]string{agent, tool, sbomID}, e.members...))
	graph := append([]obj{created, agentEl, toolEl, docEl, sbom}, e.graph...)
	out := obj{{"@context", Context}, {"@graph", graph}}
	b, err := marshal(out)
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, b, "", "  "); err != nil {
		return err
	}
	pretty.WriteByte('\n')
	_, err = w.Write(pretty.Bytes())
	return err
}

func (e *encoder) add(o obj) {
	e.graph = append(e.graph, o)
	e.members = append(e.members, o[1].v.(string))
}

func (e *encoder) relate(from, typ string, to ...string) {
	if from == "" || len(to) == 0 {
		return
	}
	e.rels++
	r := e.element("Relationship", e.id(fmt.Sprintf("relationship-%d", e.rels)))
	r.set("from", from)
	r.set("relationshipType", typ)
	r.set("to", to)
	e.add(r)
}

func dict(key, value string) obj {
	return obj{{"type", "DictionaryEntry"}, {"key", key}, {"value", value}}
}

func (e *encoder) component(c *bom.Component) {
	id := e.ids[c.Ref]
	var el obj
	switch {
	case c.Kind == bom.KindModel:
		el = e.element("ai_AIPackage", id)
	case c.Kind == bom.KindDataset:
		el = e.element("dataset_DatasetPackage", id)
	default:
		el = e.element("software_Package", id)
	}
	name := c.Name
	if c.Group != "" {
		name = c.Group + "/" + c.Name
	}
	el.set("name", name)
	el.set("description", c.Description)
	if c.PURL != "" {
		el.set("externalIdentifier", []obj{{{"type", "ExternalIdentifier"}, {"externalIdentifierType", "packageUrl"}, {"identifier", c.PURL}}})
	}
	el.set("software_packageVersion", c.Version)
	el.set("software_packageUrl", c.PURL)
	for _, l := range c.Links {
		if l.Type == "distribution" {
			el.set("software_downloadLocation", l.URL)
			break
		}
	}
	switch c.Kind {
	case bom.KindModel:
		el.set("software_primaryPurpose", "model")
		e.model(&el, c)
	case bom.KindDataset:
		el.set("software_primaryPurpose", "data")
		e.dataset(&el, c)
	case bom.KindLibrary:
		el.set("software_primaryPurpose", "library")
		if c.Library != nil {
			el.set("comment", "found in "+strings.Join(c.Library.Manifests, ", ")+requirement(c.Library))
		}
	default:
		el.set("software_primaryPurpose", "application")
	}
	e.add(el)
	var files []string
	for _, f := range c.Files {
		files = append(files, e.file(f))
	}
	e.relate(id, "contains", files...)
	if c.Kind == bom.KindModel || c.Kind == bom.KindDataset {
		e.licences(id, c.Licenses)
	}
}

func requirement(l *bom.Library) string {
	if l.Requirement == "" {
		return ""
	}
	return "; requirement " + l.Requirement + " (not locked)"
}

func (e *encoder) model(el *obj, c *bom.Component) {
	m := c.Model
	var types []string
	for _, t := range []string{m.Family, m.Architecture} {
		if t != "" {
			types = append(types, t)
		}
	}
	el.set("ai_typeOfModel", types)
	if m.Task != "" {
		el.set("ai_informationAboutApplication", "task: "+m.Task+appendText(m.IntendedUses))
	} else if m.IntendedUses != "" {
		el.set("ai_informationAboutApplication", m.IntendedUses)
	}
	el.set("ai_limitation", m.Limitations)
	var hyper []obj
	for _, h := range m.Hyper {
		hyper = append(hyper, dict(h.Key, h.Value))
	}
	if m.Parameters > 0 {
		hyper = append(hyper, dict("parameter_count", strconv.FormatInt(m.Parameters, 10)))
	}
	if q := m.QuantizationLabel(); q != "" {
		hyper = append(hyper, dict("quantization", q))
	}
	if a := m.Adapter; a != nil {
		for _, kv := range [][2]string{{"peft_type", a.PeftType}, {"lora_r", a.R}, {"lora_alpha", a.Alpha}, {"lora_dropout", a.Dropout}, {"target_modules", strings.Join(a.TargetModules, ",")}} {
			if kv[1] != "" {
				hyper = append(hyper, dict(kv[0], kv[1]))
			}
		}
	}
	for _, s := range m.Training {
		hyper = append(hyper, dict("training_"+s.Key, s.Value))
	}
	for _, g := range m.Generation {
		hyper = append(hyper, dict("generation_"+g.Key, g.Value))
	}
	el.set("ai_hyperparameter", hyper)
	var metrics []obj
	for _, met := range m.Metrics {
		key := met.Type
		if key == "" {
			key = met.Name
		}
		if d := e.doc.Lookup(met.Dataset); d != nil {
			key += " on " + d.Name
		}
		metrics = append(metrics, dict(key, met.Value))
	}
	el.set("ai_metric", metrics)
	if info := trainingInfo(e.doc, m); info != "" {
		el.set("ai_informationAboutTraining", info)
	}
	if co := m.CO2; co != nil && co.Emissions != "" {
		el.set("comment", "co2_eq_emissions: "+co.Emissions+" g")
	}
}

func appendText(s string) string {
	if s == "" {
		return ""
	}
	return "; " + s
}

// trainingInfo summarises where the model came from and how it was
// trained, for ai_informationAboutTraining.
func trainingInfo(d *bom.Document, m *bom.Model) string {
	var parts []string
	for _, b := range m.BaseModels {
		if base := d.Lookup(b.Ref); base != nil {
			parts = append(parts, fmt.Sprintf("%s of %s", b.Relation, hubName(base)))
		}
	}
	var ds []string
	for _, ref := range m.Datasets {
		if c := d.Lookup(ref); c != nil {
			ds = append(ds, hubName(c))
		}
	}
	if len(ds) > 0 {
		parts = append(parts, "trained on "+strings.Join(ds, ", "))
	}
	sources := map[string]bool{}
	var src []string
	for _, s := range m.Training {
		if !sources[s.Source] {
			sources[s.Source] = true
			src = append(src, s.Source)
		}
	}
	if len(src) > 0 {
		parts = append(parts, "training configuration from "+strings.Join(src, ", ")+" (see ai_hyperparameter training_*)")
	}
	return strings.Join(parts, "; ")
}

func hubName(c *bom.Component) string {
	if c.Group != "" {
		return c.Group + "/" + c.Name
	}
	return c.Name
}

// datasetType maps Hub task categories to SPDX dataset types.
func datasetType(c *bom.Component) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range c.Dataset.TaskCategories {
		var dt string
		switch {
		case strings.Contains(t, "image") || strings.Contains(t, "object-detection") || strings.Contains(t, "depth"):
			dt = "image"
		case strings.Contains(t, "audio") || strings.Contains(t, "speech"):
			dt = "audio"
		case strings.Contains(t, "video"):
			dt = "video"
		case strings.Contains(t, "tabular"):
			dt = "structured"
		case strings.Contains(t, "time-series"):
			dt = "timeseries"
		case strings.Contains(t, "graph"):
			dt = "graph"
		case strings.Contains(t, "text") || strings.Contains(t, "question") || strings.Contains(t, "translation") || strings.Contains(t, "summarization") || strings.Contains(t, "token") || strings.Contains(t, "fill-mask") || strings.Contains(t, "sentence"):
			dt = "text"
		default:
			dt = "other"
		}
		if !seen[dt] {
			seen[dt] = true
			out = append(out, dt)
		}
	}
	if len(out) == 0 {
		out = []string{"noAssertion"}
	}
	return out
}

func (e *encoder) dataset(el *obj, c *bom.Component) {
	d := c.Dataset
	el.set("dataset_datasetType", datasetType(c))
	var size int64
	for _, f := range c.Files {
		size += f.Size
	}
	if c.Local && len(c.Files) > 0 {
		el.set("dataset_datasetSize", size)
	}
	if len(d.TaskCategories) > 0 {
		el.set("dataset_intendedUse", "task categories: "+strings.Join(d.TaskCategories, ", "))
	}
	var notes []string
	for _, f := range d.Files {
		s := f.Path
		if f.Split != "" {
			s += " (" + f.Split + ")"
		}
		if f.RowsExact {
			s += fmt.Sprintf(": %d rows", f.Rows)
		}
		if f.Facts != nil && len(f.Facts.Columns) > 0 {
			s += ", columns " + f.Facts.Schema()
		}
		notes = append(notes, s)
	}
	if len(notes) > 0 {
		el.set("comment", strings.Join(notes, "; "))
	}
}

func (e *encoder) file(f *bom.File) string {
	id := e.id("file-" + f.Path)
	el := e.element("software_File", id)
	el.set("name", f.Path)
	if f.SHA256 != "" {
		el.set("verifiedUsing", []obj{{{"type", "Hash"}, {"algorithm", "sha256"}, {"hashValue", f.SHA256}}})
	}
	el.set("software_primaryPurpose", filePurpose(f))
	el.set("software_fileKind", "file")
	e.add(el)
	if a := f.Scan; a != nil {
		e.annotate(id, fmt.Sprintf("aigis scan verdict: %s (format %s)", a.Verdict, a.Format))
		for _, fd := range a.Findings {
			s := fmt.Sprintf("aigis scan finding %s [%s, %s]: %s", fd.Rule, fd.Severity, fd.Verdict, fd.Message)
			if fd.Location != "" {
				s += " at " + fd.Location
			}
			e.annotate(id, s)
		}
	}
	return id
}

func (e *encoder) annotate(subject, statement string) {
	a := e.element("Annotation", e.id(fmt.Sprintf("annotation-%d", len(e.graph))))
	a.set("annotationType", "review")
	a.set("subject", subject)
	a.set("statement", statement)
	e.add(a)
}

func filePurpose(f *bom.File) string {
	if f.Weights {
		return "model"
	}
	switch f.Format {
	case "parquet", "jsonl", "csv", "tsv":
		return "data"
	case "config", "tokenizer":
		return "configuration"
	case "card", "license":
		return "documentation"
	case "code":
		return "source"
	case "training-args-pickle":
		return "data"
	}
	return "other"
}

// licences adds exactly one declared and one concluded licence to an AI
// or dataset package. Declared is what the card says (NOASSERTION when
// it says nothing); concluded is the same expression when every licence
// was identified, NOASSERTION otherwise.
func (e *encoder) licences(pkg string, ls []license.Info) {
	declared, concluded := NoAssertionLicense, NoAssertionLicense
	if len(ls) > 0 {
		var ids []string
		known := true
		for _, l := range ls {
			ids = append(ids, l.ID())
			known = known && l.Known()
		}
		declared = e.expression(strings.Join(ids, " AND "), ls)
		if known {
			concluded = declared
		}
	}
	e.relate(pkg, "hasDeclaredLicense", declared)
	e.relate(pkg, "hasConcludedLicense", concluded)
}

func (e *encoder) expression(expr string, ls []license.Info) string {
	if id, ok := e.lics[expr]; ok {
		return id
	}
	id := e.id("license-" + expr)
	el := e.element("simplelicensing_LicenseExpression", id)
	el.set("simplelicensing_licenseExpression", expr)
	var custom []obj
	for _, l := range ls {
		if l.Ref != "" && l.URL != "" {
			custom = append(custom, dict(l.Ref, l.URL))
		}
	}
	el.set("simplelicensing_customIdToUri", custom)
	e.add(el)
	e.lics[expr] = id
	return id
}
