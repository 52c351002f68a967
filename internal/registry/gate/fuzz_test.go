package gate

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
)

// FuzzParseManifest: any bytes either fail with a reason or give a
// manifest whose every layer has a valid digest, a known packing and a
// clean path, within the limits.
func FuzzParseManifest(f *testing.F) {
	b := newBlobs()
	f.Add(manifestOf(b, ArtifactTypeModelPack, MediaTypeModelPackConfig, []byte("{}"), []lay{
		modelPackLayer("weight", "model.safetensors", []byte("x")),
		{mediaType: "application/vnd.cncf.model.doc.v1.tar+gzip", data: []byte("y"), ann: map[string]string{annotationFilepath: "docs"}},
	}, nil))
	f.Add(manifestOf(b, "", MediaTypeKitConfig, []byte("{}"), []lay{{mediaType: "application/vnd.kitops.modelkit.model.v1.tar+gzip", data: []byte("z")}}, nil))
	f.Add(manifestOf(b, "application/x", MediaTypeEmpty, []byte("{}"), []lay{
		{mediaType: "application/octet-stream", data: []byte("w"), ann: map[string]string{annotationTitle: "a/b.bin"}},
		{mediaType: "application/vnd.oci.image.layer.v1.tar+zstd", data: []byte("v"), ann: map[string]string{annotationTitle: "dir", annotationOrasUnpack: "true"}},
	}, map[string]string{"org.opencontainers.image.licenses": "MIT"}))
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":10}]}`))
	f.Add([]byte(`{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:` + strings.Repeat("0", 64) + `","size":1},"layers":[{"mediaType":"application/vnd.cncf.model.weight.v1.raw","digest":"sha256:` + strings.Repeat("1", 64) + `","size":1,"annotations":{"org.cncf.model.filepath":"./a//../b"}}]}`))
	f.Add([]byte(`{"schemaVersion":2}`))
	lim := DefaultLimits()
	lim.ManifestBytes = 64 << 10
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseManifest(data, "", lim)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a reason")
			}
			return
		}
		switch p.Kind {
		case KindIndex:
			if len(p.Manifest.Manifests) == 0 || len(p.Manifest.Manifests) > lim.IndexManifests {
				t.Fatalf("index of %d manifests", len(p.Manifest.Manifests))
			}
			for _, d := range p.Manifest.Manifests {
				if !ValidDigest(d.Digest) || d.Size < 0 {
					t.Fatalf("manifest %+v", d)
				}
			}
			return
		case KindModelPack, KindKitOps, KindOCI:
		default:
			t.Fatalf("kind %q", p.Kind)
		}
		if p.Manifest.Config == nil || !ValidDigest(p.Manifest.Config.Digest) || len(p.Layers) == 0 || len(p.Layers) > lim.Layers {
			t.Fatalf("manifest %+v", p.Manifest)
		}
		for _, l := range p.Layers {
			if !ValidDigest(l.Desc.Digest) || l.Desc.Size < 0 || l.Desc.Size > lim.BlobBytes {
				t.Fatalf("layer %+v", l.Desc)
			}
			switch l.Packing {
			case PackingRaw, PackingTar, PackingTarGzip, PackingTarZstd:
			default:
				t.Fatalf("packing %q", l.Packing)
			}
			if l.Packing == PackingRaw && l.Path == "" && l.Role != "signature" {
				t.Fatalf("raw layer without a path: %+v", l)
			}
			if l.Path != "" {
				if c, err := cleanPath(l.Path); err != nil || c != l.Path || filepath.IsAbs(l.Path) || hasDotDot(l.Path) {
					t.Fatalf("path %q (%v)", l.Path, err)
				}
			}
		}
	})
}

func hasDotDot(p string) bool {
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return true
		}
	}
	return false
}

// FuzzUnpackTar: a hostile tar layer either fails or unpacks regular
// files and directories only, all inside the work directory, within the
// limits.
func FuzzUnpackTar(f *testing.F) {
	f.Add(testutil.Tar(f, testutil.TarEntry{Name: "a/b.txt", Data: []byte("x")}, testutil.TarEntry{Name: "c", Data: []byte("yy")}))
	f.Add(testutil.Tar(f, testutil.TarEntry{Name: "../evil", Data: []byte("x")}))
	f.Add(testutil.Tar(f, testutil.TarEntry{Name: "l", Type: '2', Linkname: "/etc/passwd"}))
	f.Add(testutil.Tar(f, testutil.TarEntry{Name: "d/", Type: '5'}, testutil.TarEntry{Name: "d/x", Data: []byte("1")}))
	f.Add([]byte("not a tar"))
	lim := DefaultLimits()
	lim.Files, lim.UnpackedBytes = 64, 1<<20
	f.Fuzz(func(t *testing.T, data []byte) {
		b := newBlobs()
		d := b.put(data)
		work := t.TempDir()
		tr, err := newTree(work, "m", lim)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.remove()
		l := layer{Desc: descriptor{MediaType: "application/vnd.cncf.model.weight.v1.tar", Digest: d, Size: int64(len(data))}, Role: "weight", Packing: PackingTar}
		if err := tr.unpack(context.Background(), b, l, ""); err != nil {
			return
		}
		var n int
		var size int64
		err = filepath.WalkDir(work, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p == work || p == tr.base || p == tr.root {
				return nil
			}
			if !strings.HasPrefix(p, tr.root+string(filepath.Separator)) {
				t.Fatalf("%s is outside the model root", p)
			}
			n++
			switch {
			case e.Type().IsRegular():
				info, _ := e.Info()
				size += info.Size()
			case e.IsDir():
			default:
				t.Fatalf("%s is a %v", p, e.Type())
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n > lim.Files || size > lim.UnpackedBytes || n != len(tr.files)+len(tr.dirs) {
			t.Fatalf("%d entries (%d files, %d dirs), %d bytes", n, len(tr.files), len(tr.dirs), size)
		}
	})
}
