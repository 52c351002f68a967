package image

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/aigis-dev/aigis/internal/bom"
)

// BOM describes the image as a bill of materials for bom's encoders: the
// image is the subject (a container), its packages are libraries with
// their purls and layers, its models are model components with the
// SHA-256 and scan verdict of their files, and its GPU stack is a set of
// libraries. Hidden models (deleted or replaced by a later layer) are
// listed too: they ship with the image.
func (res *Result) BOM() *bom.Document {
	subj := &bom.Component{Ref: "image", Kind: bom.KindContainer, Name: res.Target, Version: res.Digest, Local: true, Path: "."}
	for _, kv := range [][2]string{{"aigis:image:kind", res.Kind}, {"aigis:image:os", res.OS}, {"aigis:image:architecture", res.Arch}, {"aigis:image:user", res.User}, {"aigis:image:layers", strconv.Itoa(len(res.Layers))}} {
		if kv[1] != "" {
			subj.Properties = append(subj.Properties, bom.Property{Name: kv[0], Value: kv[1]})
		}
	}
	for _, l := range res.Layers {
		if l.Digest != "" {
			subj.Properties = append(subj.Properties, bom.Property{Name: fmt.Sprintf("aigis:image:layer:%d", l.Index), Value: l.Digest})
		}
	}
	d := &bom.Document{Subject: subj, Hashed: true, Scanned: true}
	refs := map[string]bool{}
	unique := func(ref string) string {
		r := ref
		for i := 2; refs[r]; i++ {
			r = ref + "#" + strconv.Itoa(i)
		}
		refs[r] = true
		return r
	}
	for _, p := range res.Packages {
		c := &bom.Component{Ref: unique("pkg:" + p.Ecosystem + "/" + p.Name + "@" + p.Version), Kind: bom.KindLibrary, Name: p.Name, Version: p.Version, PURL: p.PURL, Local: true,
			Library:    &bom.Library{Ecosystem: p.Ecosystem, Manifests: []string{p.File}},
			Properties: []bom.Property{{Name: "aigis:image:layer", Value: strconv.Itoa(p.Layer)}}}
		d.Components = append(d.Components, c)
		d.Relations = append(d.Relations, bom.Relation{From: subj.Ref, Type: bom.DependsOn, To: c.Ref})
	}
	for _, a := range res.Models {
		state := a.Properties["state"]
		fp := a.Path
		if state != "present" {
			fp += "#layer" + a.Properties["layer"] + "-" + state
		}
		size := a.Size
		f := &bom.File{Path: fp, Size: size, SHA256: a.Properties["sha256"], Format: a.Format, Weights: true, Scan: a}
		m := &bom.Model{Formats: []string{a.Format}}
		if mm := a.Model; mm != nil {
			m.Parameters, m.DTypes, m.Quantization, m.Architecture = mm.Parameters, mm.DTypes, mm.Quantization, mm.Architecture
			if m.Parameters > 0 {
				m.ParamSource = "weight header"
			}
		}
		c := &bom.Component{Ref: unique("model:" + fp), Kind: bom.KindModel, Name: path.Base(a.Path), Local: true, Path: fp, Files: []*bom.File{f}, Model: m,
			Properties: []bom.Property{{Name: "aigis:image:layer", Value: a.Properties["layer"]}, {Name: "aigis:image:state", Value: state}}}
		d.Components = append(d.Components, c)
		d.Relations = append(d.Relations, bom.Relation{From: subj.Ref, Type: bom.Contains, To: c.Ref})
	}
	if res.GPU != nil {
		for _, g := range res.GPU.Components {
			c := &bom.Component{Ref: unique("gpu:" + g.Name), Kind: bom.KindLibrary, Name: "nvidia-" + strings.TrimPrefix(g.Name, "nvidia-"), Version: g.Version, Local: true,
				Properties: []bom.Property{{Name: "aigis:gpu:component", Value: g.Name}}}
			if g.Source != "" {
				c.Properties = append(c.Properties, bom.Property{Name: "aigis:gpu:version-source", Value: g.Source})
			}
			for _, p := range g.Paths {
				c.Properties = append(c.Properties, bom.Property{Name: "aigis:gpu:path", Value: p})
			}
			d.Components = append(d.Components, c)
			d.Relations = append(d.Relations, bom.Relation{From: subj.Ref, Type: bom.DependsOn, To: c.Ref})
		}
	}
	sort.Slice(d.Components, func(i, j int) bool { return d.Components[i].Ref < d.Components[j].Ref })
	sort.Slice(d.Relations, func(i, j int) bool {
		a, b := d.Relations[i], d.Relations[j]
		if a.From != b.From {
			return a.From < b.From
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.To < b.To
	})
	return d
}
