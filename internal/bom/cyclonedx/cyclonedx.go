// Package cyclonedx renders a bom.Document as CycloneDX 1.6 or 1.7 JSON,
// with the types of github.com/CycloneDX/cyclonedx-go.
//
// Models are machine-learning-model components with a modelCard (task,
// architecture, training datasets by reference, performance metrics,
// considerations, and cdx:ai-ml:* properties: cyclonedx-go's MLModelCard
// has no properties field, so this package adds it in a thin wrapper
// type); datasets are data components; base models and source datasets go
// into pedigree.ancestors; training configuration goes into formulation;
// scan findings become vulnerabilities. Output is deterministic: the same
// document, timestamp and serial give the same bytes.
//
// It only encodes: it reads nothing from disk and never fetches a schema.
package cyclonedx

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/aigis-dev/aigis/internal/bom"
	"github.com/aigis-dev/aigis/internal/bom/license"
	"github.com/aigis-dev/aigis/report"
)

// Options control the document envelope.
type Options struct {
	// SpecVersion is "1.6" (default) or "1.7".
	SpecVersion string
	Timestamp   time.Time
	// Serial is a UUID ("urn:uuid:" is added).
	Serial      string
	ToolVersion string
	// Reproducible marks the document with cdx:reproducible=true.
	Reproducible bool
}

// Versions lists the spec versions Encode writes.
func Versions() []string { return []string{"1.6", "1.7"} }

func specVersion(s string) (cdx.SpecVersion, error) {
	switch s {
	case "", "1.6":
		return cdx.SpecVersion1_6, nil
	case "1.7":
		return cdx.SpecVersion1_7, nil
	}
	return 0, fmt.Errorf("CycloneDX spec version %q is not supported (want %s)", s, strings.Join(Versions(), " or "))
}

// modelCard adds the properties that cdx.MLModelCard lacks.
type modelCard struct {
	cdx.MLModelCard
	Properties *[]cdx.Property `json:"properties,omitempty"`
}

// component shadows cdx.Component's modelCard and components so that
// model cards carry properties at any depth.
type component struct {
	cdx.Component
	ModelCard  *modelCard   `json:"modelCard,omitempty"`
	Components *[]component `json:"components,omitempty"`
}

type metadata struct {
	cdx.Metadata
	Component *component `json:"component,omitempty"`
}

type document struct {
	cdx.BOM
	Metadata   *metadata    `json:"metadata,omitempty"`
	Components *[]component `json:"components,omitempty"`
}

// Encode writes d as CycloneDX JSON.
func Encode(w io.Writer, d *bom.Document, opt Options) error {
	sv, err := specVersion(opt.SpecVersion)
	if err != nil {
		return err
	}
	doc := document{BOM: cdx.BOM{
		JSONSchema:   fmt.Sprintf("http://cyclonedx.org/schema/bom-%s.schema.json", sv),
		BOMFormat:    cdx.BOMFormat,
		SpecVersion:  sv,
		SerialNumber: "urn:uuid:" + opt.Serial,
		Version:      1,
	}}
	md := &metadata{Metadata: cdx.Metadata{
		Timestamp: opt.Timestamp.UTC().Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: "aigis", Version: opt.ToolVersion,
			ExternalReferences: &[]cdx.ExternalReference{{Type: cdx.ERTypeVCS, URL: "https://github.com/aigis-dev/aigis"}},
		}}},
	}}
	var props []cdx.Property
	if opt.Reproducible {
		props = append(props, cdx.Property{Name: "cdx:reproducible", Value: "true"})
	}
	if !d.Hashed {
		props = append(props, cdx.Property{Name: "aigis:hashes", Value: "omitted (--no-hash)"})
	}
	for _, w := range d.Warnings {
		props = append(props, cdx.Property{Name: "aigis:warning", Value: w})
	}
	if len(props) > 0 {
		md.Properties = &props
	}
	e := &encoder{doc: d}
	subj := e.component(d.Subject)
	md.Component = &subj
	doc.Metadata = md
	var comps []component
	for _, c := range d.Components {
		comps = append(comps, e.component(c))
	}
	if len(comps) > 0 {
		doc.Components = &comps
	}
	doc.Dependencies = e.dependencies()
	doc.Formulation = e.formulation()
	if len(e.vulns) > 0 {
		doc.Vulnerabilities = &e.vulns
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

type encoder struct {
	doc   *bom.Document
	vulns []cdx.Vulnerability
}

func kindType(k bom.Kind) cdx.ComponentType {
	switch k {
	case bom.KindModel:
		return cdx.ComponentTypeMachineLearningModel
	case bom.KindDataset:
		return cdx.ComponentTypeData
	case bom.KindLibrary:
		return cdx.ComponentTypeLibrary
	case bom.KindContainer:
		return cdx.ComponentTypeContainer
	}
	return cdx.ComponentTypeApplication
}

func ptr[T any](v T) *T { return &v }

func (e *encoder) component(c *bom.Component) component {
	out := component{Component: cdx.Component{
		BOMRef: c.Ref, Type: kindType(c.Kind), Name: c.Name, Group: c.Group, Version: c.Version,
		PackageURL: c.PURL, Description: c.Description,
	}}
	if ls := licenses(c.Licenses); ls != nil {
		out.Licenses = ls
	}
	var refs []cdx.ExternalReference
	for _, l := range c.Links {
		refs = append(refs, cdx.ExternalReference{Type: cdx.ExternalReferenceType(l.Type), URL: l.URL})
	}
	for _, l := range c.Licenses {
		if l.URL != "" {
			refs = append(refs, cdx.ExternalReference{Type: cdx.ERTypeLicense, URL: l.URL})
		}
	}
	if len(refs) > 0 {
		out.ExternalReferences = &refs
	}
	if p := e.pedigree(c); p != nil {
		out.Pedigree = p
	}
	var props []cdx.Property
	for _, l := range c.Licenses {
		props = append(props, cdx.Property{Name: "aigis:license:declared", Value: l.Declared})
		for _, f := range l.Flags {
			props = append(props, cdx.Property{Name: "aigis:license:restriction", Value: f})
		}
	}
	if !c.Local {
		props = append(props, cdx.Property{Name: "aigis:reference", Value: "named by a card or config; not present in the scanned tree"})
	}
	if c.Model != nil {
		if len(c.Model.Formats) > 0 {
			props = append(props, cdx.Property{Name: "aigis:model:format", Value: strings.Join(c.Model.Formats, ",")})
		}
		if c.Model.RemoteCode {
			props = append(props, cdx.Property{Name: "aigis:model:remote-code", Value: "true"})
		}
		for _, f := range c.Model.FrameworkVersions {
			props = append(props, cdx.Property{Name: "aigis:framework:" + f.Key, Value: f.Value})
		}
		if co := c.Model.CO2; co != nil && co.Emissions != "" {
			props = append(props, cdx.Property{Name: "aigis:model:co2_eq_emissions_grams", Value: co.Emissions})
		}
		if c.Model.ParamSource != "" {
			props = append(props, cdx.Property{Name: "aigis:model:parameter-count-source", Value: c.Model.ParamSource})
		}
	}
	if c.Library != nil {
		for _, m := range c.Library.Manifests {
			props = append(props, cdx.Property{Name: "aigis:manifest", Value: m})
		}
		if c.Library.Requirement != "" {
			props = append(props, cdx.Property{Name: "aigis:requirement", Value: c.Library.Requirement + " (not locked)"})
		}
	}
	for _, p := range c.Properties {
		props = append(props, cdx.Property{Name: p.Name, Value: p.Value})
	}
	if len(props) > 0 {
		out.Properties = &props
	}
	if c.Model != nil && (c.Local || c.Model.Task != "") {
		out.ModelCard = e.modelCard(c)
	}
	if c.Dataset != nil {
		out.Data = dataOf(c)
	}
	var files []component
	for _, f := range c.Files {
		files = append(files, e.file(f))
	}
	if len(files) > 0 {
		out.Components = &files
	}
	return out
}

// licenses: SPDX ids as license ids; anything with a LicenseRef as one
// expression (CycloneDX accepts LicenseRef-* only there).
func licenses(ls []license.Info) *cdx.Licenses {
	if len(ls) == 0 {
		return nil
	}
	allSPDX := true
	var ids []string
	for _, l := range ls {
		allSPDX = allSPDX && l.SPDX != ""
		ids = append(ids, l.ID())
	}
	if !allSPDX {
		return &cdx.Licenses{{Expression: strings.Join(ids, " AND ")}}
	}
	out := cdx.Licenses{}
	for _, l := range ls {
		out = append(out, cdx.LicenseChoice{License: &cdx.License{ID: l.SPDX, Acknowledgement: cdx.LicenseAcknowledgementDeclared}})
	}
	return &out
}

func (e *encoder) pedigree(c *bom.Component) *cdx.Pedigree {
	var anc []cdx.Component
	var notes []string
	for _, r := range e.doc.Relations {
		if r.Type != bom.AncestorOf || r.To != c.Ref {
			continue
		}
		a := e.doc.Lookup(r.From)
		if a == nil {
			continue
		}
		anc = append(anc, cdx.Component{Type: kindType(a.Kind), Name: a.Name, Group: a.Group, Version: a.Version, PackageURL: a.PURL})
		if c.Model != nil {
			for _, b := range c.Model.BaseModels {
				if b.Ref == a.Ref && b.Relation != "" {
					notes = append(notes, fmt.Sprintf("%s of %s (%s)", b.Relation, hubName(a), b.Source))
				}
			}
		}
		if c.Dataset != nil {
			notes = append(notes, "derived from "+hubName(a)+" (dataset card source_datasets)")
		}
	}
	if len(anc) == 0 {
		return nil
	}
	return &cdx.Pedigree{Ancestors: &anc, Notes: strings.Join(notes, "; ")}
}

func hubName(c *bom.Component) string {
	if c.Group != "" {
		return c.Group + "/" + c.Name
	}
	return c.Name
}

func (e *encoder) modelCard(c *bom.Component) *modelCard {
	m := c.Model
	mp := &cdx.MLModelParameters{Task: m.Task, ArchitectureFamily: m.Family, ModelArchitecture: m.Architecture}
	if len(m.Datasets) > 0 {
		var ds []cdx.MLDatasetChoice
		for _, ref := range m.Datasets {
			ds = append(ds, cdx.MLDatasetChoice{Ref: ref})
		}
		mp.Datasets = &ds
	}
	mc := &modelCard{MLModelCard: cdx.MLModelCard{BOMRef: "modelcard:" + strings.TrimPrefix(c.Ref, "model:"), ModelParameters: mp}}
	if len(m.Metrics) > 0 {
		var pm []cdx.MLPerformanceMetric
		for _, met := range m.Metrics {
			typ := met.Type
			if typ == "" {
				typ = met.Name
			}
			var slice []string
			if d := e.doc.Lookup(met.Dataset); d != nil {
				slice = append(slice, "dataset "+hubName(d))
			}
			if met.Split != "" {
				slice = append(slice, "split "+met.Split)
			}
			if met.Task != "" {
				slice = append(slice, "task "+met.Task)
			}
			pm = append(pm, cdx.MLPerformanceMetric{Type: typ, Value: met.Value, Slice: strings.Join(slice, ", ")})
		}
		mc.QuantitativeAnalysis = &cdx.MLQuantitativeAnalysis{PerformanceMetrics: &pm}
	}
	var cons cdx.MLModelCardConsiderations
	if m.Limitations != "" {
		cons.TechnicalLimitations = &[]string{m.Limitations}
	}
	if m.IntendedUses != "" {
		cons.UseCases = &[]string{m.IntendedUses}
	}
	if cons.TechnicalLimitations != nil || cons.UseCases != nil {
		mc.Considerations = &cons
	}
	var props []cdx.Property
	for _, p := range m.ModelCardProperties() {
		props = append(props, cdx.Property{Name: p.Name, Value: p.Value})
	}
	if len(props) > 0 {
		mc.Properties = &props
	}
	return mc
}

func dataOf(c *bom.Component) *[]cdx.ComponentData {
	d := c.Dataset
	var out []cdx.ComponentData
	if !c.Local {
		for _, l := range c.Links {
			out = append(out, cdx.ComponentData{Type: cdx.ComponentDataTypeDataset, Name: hubName(c), Contents: &cdx.ComponentDataContents{URL: l.URL}})
		}
		return &out
	}
	for _, f := range d.Files {
		var props []cdx.Property
		add := func(n, v string) {
			if v != "" {
				props = append(props, cdx.Property{Name: n, Value: v})
			}
		}
		if f.Facts != nil {
			add("aigis:dataset:format", f.Facts.Format)
		}
		if f.RowsExact {
			add("aigis:dataset:rows", strconv.FormatInt(f.Rows, 10))
		}
		add("aigis:dataset:split", f.Split)
		if f.Facts != nil {
			add("aigis:dataset:schema", f.Facts.Schema())
		}
		cd := cdx.ComponentData{BOMRef: "data:" + f.Path, Type: cdx.ComponentDataTypeDataset, Name: f.Path}
		if len(props) > 0 {
			cd.Contents = &cdx.ComponentDataContents{Properties: &props}
		}
		out = append(out, cd)
	}
	if len(out) == 0 {
		out = append(out, cdx.ComponentData{Type: cdx.ComponentDataTypeDataset, Name: c.Name})
	}
	if d.RowsExact && len(d.Files) > 1 {
		out[0].Description = fmt.Sprintf("%d rows in %d files", d.Rows, len(d.Files))
	}
	return &out
}

var severities = map[report.Severity]cdx.Severity{
	report.SeverityInfo: cdx.SeverityInfo, report.SeverityLow: cdx.SeverityLow, report.SeverityMedium: cdx.SeverityMedium,
	report.SeverityHigh: cdx.SeverityHigh, report.SeverityCritical: cdx.SeverityCritical,
}

func (e *encoder) file(f *bom.File) component {
	ref := "file:" + f.Path
	out := component{Component: cdx.Component{BOMRef: ref, Type: cdx.ComponentTypeFile, Name: f.Path}}
	if f.SHA256 != "" {
		out.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: f.SHA256}}
	}
	props := []cdx.Property{{Name: "aigis:file:size", Value: strconv.FormatInt(f.Size, 10)}}
	if f.Format != "" {
		props = append(props, cdx.Property{Name: "aigis:file:format", Value: f.Format})
	}
	if a := f.Scan; a != nil {
		props = append(props, cdx.Property{Name: "aigis:scan:verdict", Value: a.Verdict.String()})
		if a.Format != "" {
			props = append(props, cdx.Property{Name: "aigis:scan:format", Value: a.Format})
		}
		for _, fd := range a.Findings {
			v := cdx.Vulnerability{
				BOMRef:      fmt.Sprintf("finding:%d", len(e.vulns)+1),
				ID:          fd.Rule,
				Source:      &cdx.Source{Name: "aigis"},
				Ratings:     &[]cdx.VulnerabilityRating{{Source: &cdx.Source{Name: "aigis"}, Severity: severities[fd.Severity], Method: cdx.ScoringMethodOther}},
				Description: fd.Message,
				Detail:      fd.Reason,
				Affects:     &[]cdx.Affects{{Ref: ref}},
				Properties:  &[]cdx.Property{{Name: "aigis:verdict", Value: fd.Verdict.String()}},
			}
			if fd.Location != "" {
				*v.Properties = append(*v.Properties, cdx.Property{Name: "aigis:location", Value: fd.Location})
			}
			e.vulns = append(e.vulns, v)
		}
	}
	out.Properties = &props
	return out
}

// dependencies lists every component with what it depends on: libraries
// and contained things for a project, training datasets for a model, the
// base model for an adapter.
func (e *encoder) dependencies() *[]cdx.Dependency {
	var out []cdx.Dependency
	for _, c := range e.doc.All() {
		var on []string
		for _, r := range e.doc.Relations {
			if r.From == c.Ref && (r.Type == bom.DependsOn || r.Type == bom.Contains || r.Type == bom.TrainedOn) && !slices.Contains(on, r.To) {
				on = append(on, r.To)
			}
		}
		d := cdx.Dependency{Ref: c.Ref}
		if len(on) > 0 {
			d.Dependencies = &on
		}
		out = append(out, d)
	}
	return &out
}

// formulation records how each local model was made: one training
// workflow with the training settings, the training datasets and base
// models as inputs, and the model as output.
func (e *encoder) formulation() *[]cdx.Formula {
	var out []cdx.Formula
	for _, c := range e.doc.All() {
		m := c.Model
		if m == nil || !c.Local || len(m.Training) == 0 && len(m.Datasets) == 0 && len(m.BaseModels) == 0 && m.Adapter == nil {
			continue
		}
		id := strings.TrimPrefix(c.Ref, "model:")
		wf := cdx.Workflow{BOMRef: "workflow:training:" + id, UID: "training:" + id, Name: "training of " + c.Name,
			TaskTypes: &[]cdx.TaskType{cdx.TaskTypeBuild}}
		var inputs []cdx.TaskInput
		for _, b := range m.BaseModels {
			inputs = append(inputs, cdx.TaskInput{Resource: &cdx.ResourceReferenceChoice{Ref: b.Ref}})
		}
		for _, ds := range m.Datasets {
			inputs = append(inputs, cdx.TaskInput{Resource: &cdx.ResourceReferenceChoice{Ref: ds}})
		}
		if len(inputs) > 0 {
			wf.Inputs = &inputs
		}
		wf.Outputs = &[]cdx.TaskOutput{{Type: cdx.TaskOutputTypeArtifact, Resource: &cdx.ResourceReferenceChoice{Ref: c.Ref}}}
		var props []cdx.Property
		for _, s := range m.Training {
			props = append(props, cdx.Property{Name: bom.TrainingProperty(s.Key), Value: s.Value},
				cdx.Property{Name: "aigis:training:source", Value: s.Key + " from " + s.Source})
		}
		if a := m.Adapter; a != nil {
			for _, kv := range [][2]string{{"peft_type", a.PeftType}, {"lora_r", a.R}, {"lora_alpha", a.Alpha}, {"lora_dropout", a.Dropout}, {"target_modules", strings.Join(a.TargetModules, ",")}} {
				if kv[1] != "" {
					props = append(props, cdx.Property{Name: bom.AdapterProperty(kv[0]), Value: kv[1]})
				}
			}
		}
		if len(props) > 0 {
			wf.Properties = &props
		}
		out = append(out, cdx.Formula{BOMRef: "formula:" + id, Workflows: &[]cdx.Workflow{wf}})
	}
	if len(out) == 0 {
		return nil
	}
	return &out
}
