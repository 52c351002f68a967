// Package table renders a bom.Document for people: the components, their
// licences and restrictions, where the models came from, and a
// completeness score (0-100) per model and dataset with the missing fields
// listed by importance. It only formats; it reads nothing.
package table

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/aigis-dev/aigis/internal/bom"
)

// Encode writes the table.
func Encode(w io.Writer, d *bom.Document) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tVERSION\tLICENCE\tDETAILS")
	for _, c := range d.All() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", kind(c), name(c), short(c.Version), lic(c), details(d, c))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var b strings.Builder
	for _, c := range d.All() {
		s, ok := bom.Completeness(c)
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "\ncompleteness of %s %s: %d/100\n", c.Kind, name(c), s.Score)
		for _, m := range s.Missing {
			fmt.Fprintf(&b, "  missing (%s) %s: %s\n", m.Importance, m.Field, m.Reason)
		}
	}
	if score, ok := d.Score(); ok {
		fmt.Fprintf(&b, "\ncompleteness: %d/100\n", score)
	}
	for _, c := range d.All() {
		for _, l := range c.Licenses {
			if l.Restrictive() {
				fmt.Fprintf(&b, "restrictive licence: %s %s is %s (%s)\n", c.Kind, name(c), l.ID(), strings.Join(l.Flags, ", "))
			}
		}
	}
	if !d.Hashed {
		b.WriteString("hashes omitted (--no-hash)\n")
	}
	for _, w := range d.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func kind(c *bom.Component) string {
	if !c.Local {
		return string(c.Kind) + " (ref)"
	}
	return string(c.Kind)
}

func name(c *bom.Component) string {
	if c.Group != "" {
		return c.Group + "/" + c.Name
	}
	return c.Name
}

func short(v string) string {
	if len(v) == 40 {
		return v[:12]
	}
	return v
}

func lic(c *bom.Component) string {
	var ids []string
	for _, l := range c.Licenses {
		ids = append(ids, l.ID())
	}
	return strings.Join(ids, " AND ")
}

func details(d *bom.Document, c *bom.Component) string {
	var parts []string
	if m := c.Model; m != nil && c.Local {
		if len(m.Formats) > 0 {
			parts = append(parts, strings.Join(m.Formats, ","))
		}
		if m.Family != "" {
			parts = append(parts, m.Family)
		}
		if m.Parameters > 0 {
			parts = append(parts, humanCount(m.Parameters)+" params")
		}
		if q := m.QuantizationLabel(); q != "" {
			parts = append(parts, q)
		}
		for _, b := range m.BaseModels {
			if base := d.Lookup(b.Ref); base != nil {
				parts = append(parts, b.Relation+" of "+name(base))
			}
		}
		if len(m.Datasets) > 0 {
			parts = append(parts, fmt.Sprintf("trained on %d datasets", len(m.Datasets)))
		}
	}
	if ds := c.Dataset; ds != nil && c.Local {
		if ds.RowsExact {
			parts = append(parts, strconv.FormatInt(ds.Rows, 10)+" rows")
		}
		parts = append(parts, fmt.Sprintf("%d data files", len(ds.Files)))
	}
	if c.Library != nil {
		parts = append(parts, strings.Join(c.Library.Manifests, ","))
	}
	if n := len(c.Files); n > 0 {
		parts = append(parts, fmt.Sprintf("%d files", n))
		bad := 0
		for _, f := range c.Files {
			if f.Scan != nil && len(f.Scan.Findings) > 0 {
				bad++
			}
		}
		if bad > 0 {
			parts = append(parts, fmt.Sprintf("%d with scan findings", bad))
		}
	}
	return strings.Join(parts, "; ")
}

func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return strconv.FormatFloat(float64(n)/1e9, 'f', 1, 64) + "B"
	case n >= 1e6:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + "M"
	case n >= 1e3:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + "K"
	}
	return strconv.FormatInt(n, 10)
}
