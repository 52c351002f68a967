// Command pack builds the acceptance image of aigis image from the trees
// that rootfs.sh and app.sh made: layer 1 is the Debian root filesystem,
// layer 2 the application (models, code, planted token), layer 3 deletes
// one model (a whiteout). It writes the image twice: an OCI image layout
// with gzip layers (OUT/layout) and a docker save tarball with
// uncompressed layers (OUT/image.tar), plus each layer's tar
// (OUT/layers/N.tar, what tar -xf is timed on). A generator: never run in
// CI.
package main

import (
	"archive/tar"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	out := flag.String("out", "", "output directory (holds rootfs/ and app/)")
	flag.Parse()
	if *out == "" {
		log.Fatal("usage: pack -out DIR")
	}
	ld := filepath.Join(*out, "layers")
	must(os.MkdirAll(ld, 0o755))
	l1, l2, l3 := filepath.Join(ld, "1.tar"), filepath.Join(ld, "2.tar"), filepath.Join(ld, "3.tar")
	run("tar", "--numeric-owner", "-C", filepath.Join(*out, "rootfs"), "-cf", l1, ".")
	run("tar", "--numeric-owner", "-C", filepath.Join(*out, "app"), "-cf", l2, ".")
	must(whiteoutLayer(l3, "opt/models/.wh.old.pkl"))

	created := []string{
		"debootstrap --variant=minbase --include=python3-numpy,python3-torch,python3-scipy bookworm",
		"COPY app/ / # models, serve.py, .env",
		"RUN rm /opt/models/old.pkl",
	}
	// OCI layout, gzip layers.
	img := empty.Image
	var hist []v1.History
	for i, p := range []string{l1, l2, l3} {
		l, err := tarball.LayerFromFile(p)
		must(err)
		hist = append(hist, v1.History{CreatedBy: created[i], Created: v1.Time{Time: time.Unix(0, 0)}})
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: hist[i]})
		must(err)
	}
	cf, err := img.ConfigFile()
	must(err)
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONUNBUFFERED=1"}
	cf.Config.Cmd = []string{"python3", "/opt/app/serve.py"}
	img, err = mutate.ConfigFile(img, cf)
	must(err)
	lp := filepath.Join(*out, "layout")
	os.RemoveAll(lp)
	p, err := layout.Write(lp, empty.Index)
	must(err)
	must(p.AppendImage(img))

	// docker save tarball, uncompressed layers (as docker save writes them).
	raw, err := img.RawConfigFile()
	must(err)
	must(dockerArchive(filepath.Join(*out, "image.tar"), raw, []string{l1, l2, l3}))
	fmt.Println("wrote", lp, "and", filepath.Join(*out, "image.tar"))
}

func whiteoutLayer(file, name string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func dockerArchive(file string, config []byte, layers []string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	add := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	cfgName := "config.json"
	if err := add(cfgName, int64(len(config)), bytesReader(config)); err != nil {
		return err
	}
	var names []string
	for i, l := range layers {
		st, err := os.Stat(l)
		if err != nil {
			return err
		}
		lf, err := os.Open(l)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("layer%d/layer.tar", i+1)
		err = add(name, st.Size(), lf)
		lf.Close()
		if err != nil {
			return err
		}
		names = append(names, name)
	}
	m, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"aigis-acceptance:latest"}, "Layers": names}})
	if err := add("manifest.json", int64(len(m)), bytesReader(m)); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

type byteReader struct {
	b []byte
}

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func bytesReader(b []byte) io.Reader { return &byteReader{b} }

func run(name string, args ...string) {
	c := exec.Command(name, args...)
	c.Stderr = os.Stderr
	must(c.Run())
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
