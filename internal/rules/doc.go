package rules

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// WriteCatalogue renders the rules catalogue (docs/rules.md) from the
// embedded data, so the documentation cannot drift from what runs.
func WriteCatalogue(w io.Writer) error {
	p := Pickle()
	var b strings.Builder
	b.WriteString("# Rules catalogue\n\n")
	b.WriteString("Generated from `rules/*.yaml` by `go generate ./rules`; do not edit by hand.\n\n")
	b.WriteString("## Pickle imports\n\n")
	b.WriteString("Every import a pickle makes (`GLOBAL`, `STACK_GLOBAL`, `INST`, `EXT1/2/4`) is normalised through the aliases below, then classified: an **allow** rule makes it clean, a **deny** rule (tried on the import and on every re-rooting of a dotted name) makes it malicious, and anything else is suspicious.\n\n")
	b.WriteString("Patterns are `module:qualname`; `pkg.*` is every submodule of pkg, `*` one name without dots, `**` anything.\n\n")
	b.WriteString("### Behaviour findings\n\nWhat the symbolic VM reports about what a stream does, beyond what it imports.\n\n| id | verdict | severity | why |\n|---|---|---|---|\n")
	ids := make([]string, 0, len(p.Findings))
	for id := range p.Findings {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		f := p.Findings[id]
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", id, f.Verdict, f.Severity, f.Reason)
	}
	b.WriteString("\n")
	for _, act := range []Action{Deny, Allow} {
		if act == Deny {
			b.WriteString("### Deny rules (malicious)\n\n")
		} else {
			b.WriteString("### Allow rules (clean)\n\n")
		}
		for _, r := range p.Rules {
			if r.Action != act {
				continue
			}
			fmt.Fprintf(&b, "#### `%s`", r.ID)
			if act == Deny {
				fmt.Fprintf(&b, " (%s)", r.Severity)
			}
			fmt.Fprintf(&b, "\n\n%s\n\n", r.Reason)
			for i, g := range r.Globals {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "`%s`", g)
			}
			b.WriteString("\n\n")
		}
	}
	b.WriteString("### Module aliases\n\n| written | means |\n|---|---|\n")
	keys := make([]string, 0, len(p.Aliases))
	for k := range p.Aliases {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "| `%s` | `%s` |\n", k, p.Aliases[k])
	}
	keys = keys[:0]
	for k := range p.NameAliases {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "| `%s` | `%s` |\n", k, p.NameAliases[k])
	}
	b.WriteString("\n### Loaders and decoders\n\nLoaders deserialise their argument again; a constant argument is scanned as a nested file. Decoders are pure functions aigis evaluates on constants so that encoded payloads are still reached.\n\n")
	for _, l := range p.Loaders {
		trust := ""
		if l.TrustNested {
			trust = " (as safe as the payload it loads)"
		}
		fmt.Fprintf(&b, "- loader `%s`%s\n", l.Global, trust)
	}
	keys = keys[:0]
	for k := range p.Decoders {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "- decoder `%s` (%s)\n", k, p.Decoders[k])
	}
	b.WriteString("\n## Other findings\n\nArchives, containers, the walker and the budgets.\n\n| id | verdict | severity | why |\n|---|---|---|---|\n")
	fs := Findings()
	ids = ids[:0]
	for id := range fs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		f := fs[id]
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", id, f.Verdict, f.Severity, f.Reason)
	}
	b.WriteString("\n## Extension hints\n\nContent selects the parser. When content matches no format, these extensions decide the verdict so that a corrupt or disguised model is never clean.\n\n")
	h := Extensions()
	fmt.Fprintf(&b, "- **invalid**: %s\n", "`"+strings.Join(h.Invalid, "`, `")+"`")
	fmt.Fprintf(&b, "- **unsupported**: %s\n", "`"+strings.Join(h.Unsupported, "`, `")+"`")
	b.WriteString("\n")
	writeFormats(&b)
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}
