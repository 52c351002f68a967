// Package archive analyses zip, tar and 7z bundles: it checks member
// paths and links for escapes (archive slip) and hands every member back
// to the engine, so models inside bundles are analysed like loose files.
//
// It never extracts to disk. Member counts, sizes and nesting are bounded
// by the walked file's Budget. Zip-based model formats (PyTorch, npz,
// Keras) plug in as ZipLayouts that recognise an archive by its members.
package archive

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/rules"
)

// unsafePath explains why a member path escapes the extraction root, or
// returns "" when it stays inside.
func unsafePath(name string) string {
	if strings.IndexByte(name, 0) >= 0 {
		return "contains a NUL byte"
	}
	n := strings.ReplaceAll(name, "\\", "/")
	if strings.HasPrefix(n, "/") {
		return "is absolute"
	}
	if len(n) >= 2 && n[1] == ':' && (n[0]|0x20 >= 'a' && n[0]|0x20 <= 'z') {
		return "has a drive letter"
	}
	depth := 0
	for _, part := range strings.Split(n, "/") {
		switch part {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "climbs out of the archive root with .."
			}
		default:
			depth++
		}
	}
	return ""
}

// unsafeLink explains why a link member named name pointing at target
// escapes the root, or returns "".
func unsafeLink(name, target string) string {
	t := strings.ReplaceAll(target, "\\", "/")
	if strings.HasPrefix(t, "/") || len(t) >= 2 && t[1] == ':' {
		return fmt.Sprintf("links to the absolute path %q", target)
	}
	joined := path.Join(path.Dir(strings.ReplaceAll(name, "\\", "/")), t)
	if joined == ".." || strings.HasPrefix(joined, "../") {
		return fmt.Sprintf("links to %q, outside the archive root", target)
	}
	return ""
}

func slipFinding(out *analyzer.Result, member, why string) {
	out.Add(rules.New(rules.ArchiveSlip, out.Member(member), fmt.Sprintf("member %q %s", member, why)))
}

func checkEntries(ctx context.Context, out *analyzer.Result, n int, budget *analyzer.Budget) bool {
	if n > budget.MaxEntries {
		out.Problem(ctx, -1, "archive", &analyzer.LimitError{What: "archive members", Limit: int64(budget.MaxEntries)})
		return false
	}
	return true
}
