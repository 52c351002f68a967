// Package keras analyses Keras models: HDF5 files (the root attributes
// `model_config` and `keras_version`, read by a bounded HDF5 reader, in
// the object header or in dense storage) and
// Keras v3 `.keras` zips (`config.json`, `metadata.json`). The model
// configuration is walked at any depth for Lambda layers and for modules
// and callables that deserialisation would import.
//
// Nothing is deserialised, imported or unmarshalled into code; weights are
// never read. Plain HDF5 data files (no model_config) are clean.
package keras

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/analyzer/archive"
	"github.com/aigis-dev/aigis/internal/decode/hdf5"
	"github.com/aigis-dev/aigis/internal/decode/zipr"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// H5 analyses HDF5 files.
type H5 struct{}

func (H5) Name() string { return "hdf5" }

// Match accepts an HDF5 superblock signature at 0 or at a user-block
// boundary within the sniffed head.
func (H5) Match(s *analyzer.Sniff) bool { return hdf5.FindSignature(s.Head) >= 0 }

func (H5) Analyze(ctx context.Context, in *analyzer.Input, out *analyzer.Result) error {
	ra, size, err := in.ReaderAt()
	if err != nil {
		return err
	}
	root, err := hdf5.ReadRoot(ra, size)
	if err != nil {
		var he *hdf5.Error
		switch {
		case errors.As(err, &he):
			out.Problem(ctx, he.Off, "hdf5", err)
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			out.Problem(ctx, 0, "hdf5", io.ErrUnexpectedEOF)
		default:
			return err
		}
		return nil
	}
	found := false
	var meta []report.KV
	for _, a := range root.Attributes {
		switch a.Name {
		case "keras_version", "backend":
			out.SetProperty("keras."+a.Name, a.Value)
			if a.IsString && len(a.Value) <= 64 {
				meta = append(meta, report.KV{Key: a.Name, Value: strings.ToValidUTF8(a.Value, "?")})
			}
		case "model_config":
			found = true
			out.SetFormat("keras-h5")
			if !a.IsString {
				out.Add(rules.New(rules.KerasBadConfig, out.At(a.Off), "model_config is not a string attribute"))
				continue
			}
			checkConfig([]byte(a.Value), out.At(a.Off), out, false)
		}
	}
	if !found && len(root.Unread) > 0 {
		out.Add(rules.New(rules.KerasUnreadAttributes, out.Here(), fmt.Sprintf("root attributes not decoded: %s", strings.Join(root.Unread, "; "))))
	}
	if len(root.Shadowed) > 0 {
		var names []string
		for _, a := range root.Shadowed {
			names = append(names, a.Name)
		}
		out.Add(rules.New(rules.KerasShadowedAttributes, out.At(root.Shadowed[0].Off), fmt.Sprintf("the root header holds attributes %s that HDF5 ignores because the root keeps its attributes in dense storage", strings.Join(names, ", "))))
	}
	if found && len(meta) > 0 {
		out.Model().Meta = meta
	}
	return nil
}

// Zip recognises Keras v3 .keras archives.
type Zip struct{}

func (Zip) Name() string { return "keras" }

// MatchZip wants config.json beside metadata.json or the weights file,
// or alone (Keras reads config.json first; a stripped archive still
// deserialises it).
func (Zip) MatchZip(z *zipr.Reader) bool {
	var cfg, other bool
	for _, e := range z.Entries {
		switch e.Name {
		case "config.json":
			cfg = true
		case "metadata.json", "model.weights.h5", "model.weights.npz":
			other = true
		}
	}
	return cfg && (other || len(z.Entries) == 1)
}

func (Zip) AnalyzeZip(ctx context.Context, in *analyzer.Input, z *zipr.Reader, m *archive.Members, out *analyzer.Result) error {
	for _, e := range z.Entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case e.IsDir():
		case e.Name == "config.json" && e.Encrypted():
			// Keras (zipfile) refuses it; lenient readers read plaintext.
			err := m.Plaintext(ctx, e, func(d *analyzer.Result) (bool, error) {
				b, err := m.ReadSmall(e, maxConfig)
				if err != nil {
					return false, nil
				}
				if _, err := parseConfig(b, true); err != nil {
					return false, nil
				}
				checkConfig(b, d.Member(e.Name), d, true)
				return true, nil
			})
			if err != nil {
				return err
			}
		case e.Name == "config.json":
			b, err := m.ReadSmall(e, maxConfig)
			if err != nil {
				out.Child(analyzer.NewFileInput(e.Name, nil, 0, nil)).Problem(ctx, -1, "config.json", err)
				continue
			}
			checkConfig(b, out.Member(e.Name), out, true)
		case e.Name == "metadata.json":
			b, err := m.ReadSmall(e, 1<<20)
			if err == nil {
				if v := jsonField(b, "keras_version"); v != "" {
					out.SetProperty("keras.keras_version", v)
					out.Model().Meta = []report.KV{{Key: "keras_version", Value: strings.ToValidUTF8(v, "?")}}
				}
			}
		case e.Size == 0:
			// Nothing to analyse (Keras writes an empty weights file for
			// models without weights).
		default:
			if err := m.Recurse(ctx, e); err != nil {
				return err
			}
		}
	}
	return nil
}

func jsonField(b []byte, k string) string {
	i := bytes.Index(b, []byte(`"`+k+`"`))
	if i < 0 {
		return ""
	}
	rest := b[i+len(k)+2:]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	rest = rest[j+1:]
	e := bytes.IndexByte(rest, '"')
	if e < 0 || e > 64 {
		return ""
	}
	return string(rest[:e])
}
