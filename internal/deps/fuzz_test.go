package deps

import (
	"context"
	"testing"
	"testing/fstest"
	"time"
)

// FuzzExtract hands arbitrary bytes to every manifest extractor (the
// osv-scalibr ones and aigis's conda reader) under each one's file name:
// a hostile lockfile must give an error or packages, never a panic.
func FuzzExtract(f *testing.F) {
	names := []string{"requirements.txt", "pyproject.toml", "poetry.lock", "uv.lock", "Pipfile.lock", "pdm.lock", "pylock.toml",
		"go.mod", "package-lock.json", "pnpm-lock.yaml", "yarn.lock", "Cargo.lock", "Gemfile.lock", "composer.lock", "packages.lock.json", "environment.yml"}
	f.Add(uint8(0), []byte("torch==2.0\n-r requirements.txt\n--extra-index-url https://x\n"))
	f.Add(uint8(3), []byte("version = 1\n[[package]]\nname = \"a\"\nversion = \"1\"\nsource = { registry = \"https://x\" }\n"))
	f.Add(uint8(2), []byte("[[package]]\nname = \"a\"\nversion = \"1\"\n[package.source]\ntype = \"legacy\"\nurl = \"u\"\n"))
	f.Add(uint8(15), []byte("dependencies:\n  - pytorch=1.13\n  - pip: [torch==1.0]\n"))
	f.Add(uint8(8), []byte(`{"lockfileVersion":3,"packages":{"node_modules/a":{"version":"1.0.0"}}}`))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		name := names[int(which)%len(names)]
		fsys := fstest.MapFS{name: &fstest.MapFile{Data: data, ModTime: time.Unix(0, 0)}}
		info, err := fsys.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, ex := range extractors {
			if ex.match(name, info) {
				ex.run(context.Background(), fsys, ".", name, info, data)
			}
		}
	})
}
