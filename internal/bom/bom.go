// Package bom builds an AI bill of materials: the models, datasets and
// software libraries in a directory (or one file), where the models came
// from (base models, adapters, quantisations), what they were trained and
// evaluated on, how they were trained, under which licences, and the
// SHA-256 of every file.
//
// Build walks the target once. Model cards, configs and weight headers are
// read by the bounded parsers in bom/card, bom/hfconfig and bom/dataset;
// weight files are described by the scan engine (their format and the
// header facts its analysers report, report.Model);
// dependency manifests are read by the deps package (osv-scalibr's
// extractors); every file is hashed once, in parallel. The result is a
// Document, which the encoders in bom/cyclonedx, bom/spdx and bom/table
// render.
//
// It never executes, imports, unpickles or renders anything it reads,
// never follows a symbolic link, and never contacts a network: a base
// model or dataset named on a card is recorded as a reference, not
// fetched. Unreadable or hostile inputs become warnings in the document;
// they never stop the walk and never panic.
package bom

import (
	"github.com/aigis-dev/aigis/internal/bom/card"
	"github.com/aigis-dev/aigis/internal/bom/dataset"
	"github.com/aigis-dev/aigis/internal/bom/hfconfig"
	"github.com/aigis-dev/aigis/internal/bom/license"
	"github.com/aigis-dev/aigis/report"
)

// Kind is what a component is.
type Kind string

const (
	KindModel   Kind = "model"
	KindDataset Kind = "dataset"
	KindLibrary Kind = "library"
	KindProject Kind = "project"
	// KindContainer is a container image (aigis image): the subject of
	// an image's BOM.
	KindContainer Kind = "container"
)

// RelType names a typed edge between components.
type RelType string

const (
	// DependsOn: From needs To at run time (a project its libraries and
	// models, an adapter its base model).
	DependsOn RelType = "dependsOn"
	// TrainedOn: the model From was trained on the dataset To.
	TrainedOn RelType = "trainedOn"
	// TestedOn: the model From was evaluated on the dataset To.
	TestedOn RelType = "testedOn"
	// AncestorOf: From is a base model (or source dataset) of To.
	AncestorOf RelType = "ancestorOf"
	// Contains: the project From contains the model or dataset To.
	Contains RelType = "contains"
)

// Relation is one edge.
type Relation struct {
	From string
	Type RelType
	To   string
}

// Document is a bill of materials.
type Document struct {
	// Subject is what the BOM describes: the one model or dataset the
	// target is, or a project component for a tree of several things.
	Subject *Component
	// Components are all other components, sorted by Ref.
	Components []*Component
	// Relations are sorted by From, Type, To.
	Relations []Relation
	// Warnings say what could not be read, in walk order.
	Warnings []string
	// Hashed is false when the BOM was built with NoHash.
	Hashed bool
	// Scanned is true when scan findings are attached to files.
	Scanned bool
}

// All returns the subject followed by the other components.
func (d *Document) All() []*Component {
	return append([]*Component{d.Subject}, d.Components...)
}

// Lookup finds a component by ref.
func (d *Document) Lookup(ref string) *Component {
	for _, c := range d.All() {
		if c.Ref == ref {
			return c
		}
	}
	return nil
}

// Component is one model, dataset, library or project.
type Component struct {
	Ref         string
	Kind        Kind
	Name        string
	Group       string // Hub namespace, when known
	Version     string // Hub revision or package version
	PURL        string
	Description string
	// Local is true for things present in the tree; false for things a
	// card or config only names (a base model, a training dataset).
	Local bool
	// Path is the component's directory or file, relative to the target
	// ("." for the target itself).
	Path     string
	Files    []*File
	Licenses []license.Info
	Model    *Model
	Dataset  *Dataset
	Library  *Library
	// Links are external references (Hub pages, licence texts).
	Links []Link
	// Properties are extra facts under aigis names.
	Properties []Property
	// Card is the parsed card, when the component has one.
	Card *card.Card
}

// Link is an external reference.
type Link struct{ Type, URL string }

// Property is a name and a value.
type Property struct{ Name, Value string }

// File is one local file of a component.
type File struct {
	Path   string // relative to the target, with forward slashes
	Size   int64
	SHA256 string // "" when not hashed
	// Format is the scan engine's format for a model's weight file, else
	// a data format or a role (config, card, ...).
	Format string
	// Weights is true for the weight files of a model.
	Weights bool
	// Scan holds the scan verdict and findings when built with Scan.
	Scan *report.Artifact
}

// KV is a setting and its value, as written.
type KV struct{ Key, Value string }

// Setting is a training setting with the file it came from.
type Setting struct{ Key, Value, Source string }

// Model holds what is known about a model.
type Model struct {
	Formats      []string
	Task         string // pipeline_tag
	Family       string // config.json model_type, GGUF general.architecture
	Architecture string // config.json architectures[0]
	Library      string // library_name
	Parameters   int64
	ParamSource  string // where the count came from
	DTypes       []string
	Quantization string
	Languages    []string
	Tags         []string
	// Hyper are architecture hyperparameters under the names of the
	// cdx:ai-ml:model:hyperparameter taxonomy.
	Hyper []KV
	// Adapter is the PEFT configuration of an adapter.
	Adapter *hfconfig.Adapter
	// TuneMethod is "lora", "full", ... when known.
	TuneMethod string
	BaseModels []BaseModel
	// Datasets are refs of the datasets the model was trained on.
	Datasets []string
	Metrics  []Metric
	// Training is the training configuration, in source order.
	Training          []Setting
	Generation        []KV
	FrameworkVersions []KV
	Limitations       string
	IntendedUses      string
	CO2               *card.CO2
	RemoteCode        bool
	// HeaderFacts are other facts from weight headers (GGUF context
	// length, ONNX opset, ...).
	HeaderFacts []KV
}

// BaseModel is one model this model derives from.
type BaseModel struct {
	Ref      string
	Relation string // adapter, finetune, merge, quantized ("" unknown)
	Source   string // where it was named
}

// Metric is one evaluation result.
type Metric struct {
	Type, Name, Value string
	Dataset           string // dataset ref ("" when unnamed)
	Split, Task       string
}

// Dataset holds what is known about a dataset.
type Dataset struct {
	Files          []DataFile
	Rows           int64
	RowsExact      bool
	TaskCategories []string
	SizeCategories []string
	Languages      []string
	// Sources are refs of the datasets this one was derived from.
	Sources []string
}

// DataFile is one local data file.
type DataFile struct {
	Path      string
	Split     string
	Facts     *dataset.Facts
	Rows      int64
	RowsExact bool
}

// Library is a software package from a manifest or lockfile.
type Library struct {
	Ecosystem   string
	Requirement string   // for requirements that are not locked
	Manifests   []string // where it was found
}
