package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/report"
	"github.com/aigis-dev/aigis/scan"
)

func newTestEngine() *scan.Scanner {
	l := analyzer.DefaultLimits()
	l.NoSpill = true
	return scan.New(scan.Options{Workers: 1, Limits: l})
}

// tarEntry is one entry of a hand-built layer.
type tarEntry struct {
	name, body, link string
	typ              byte
	mode             int64
	size             int64 // overrides len(body) in the header when set
}

func file(name, body string) tarEntry {
	return tarEntry{name: name, body: body, typ: tar.TypeReg, mode: 0o644}
}

func layerBytes(t testing.TB, es ...tarEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.body)), ModTime: time.Unix(0, 0)}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return b.Bytes()
}

func layerOf(t testing.TB, es ...tarEntry) v1.Layer {
	t.Helper()
	b := layerBytes(t, es...)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type built struct {
	layers  []v1.Layer
	history []string
	cfg     func(*v1.ConfigFile)
}

func (b built) image(t testing.TB) v1.Image {
	t.Helper()
	img := empty.Image
	for i, l := range b.layers {
		h := v1.History{CreatedBy: "layer"}
		if i < len(b.history) {
			h.CreatedBy = b.history[i]
		}
		var err error
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: h})
		if err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if b.cfg != nil {
		b.cfg(cf)
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func writeLayout(t testing.TB, img v1.Image) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	return dir
}

func analyze(t testing.TB, target string, opt Options) *Result {
	t.Helper()
	res, err := Analyze(context.Background(), target, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// findings maps rule -> the artifacts (paths) that carry it.
func findings(res *Result) map[string][]string {
	out := map[string][]string{}
	for _, a := range res.Artifacts {
		for _, f := range a.Findings {
			out[f.Rule] = append(out[f.Rule], a.Path)
		}
	}
	return out
}

func artifact(res *Result, path string) *report.Artifact {
	for i := range res.Artifacts {
		if res.Artifacts[i].Path == path {
			return &res.Artifacts[i]
		}
	}
	return nil
}

const evilPickle = "\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03."

const osRelease = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n"

const dpkgStatus1 = `Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u10

`

const dpkgStatus2 = dpkgStatus1 + `Package: python3-numpy
Status: install ok installed
Architecture: amd64
Source: numpy
Version: 1:1.24.2-1+deb12u1

`

const metadata = "Metadata-Version: 2.1\nName: numpy\nVersion: 1.24.2\n"

func TestImage_EveryFinding(t *testing.T) {
	hf := "hf_" + "QwZrLpXkNvBtMcHdFsGjYaUeIoPaSdFgHj"
	awsID := "AKIA" + "Q3RZ7XK2LPN4MV5B"
	awsKey := "wJal" + "rXUtnFEMIK7MDENGbPxRfiCYzq8Lk2Rm9Tb4"
	openai := "sk-proj-" + "Rt5yU8iOpA2sDfG4hJkL6zXcV9bNm1QwEr3TyUi7OpAs0DfGh"
	b := built{
		layers: []v1.Layer{
			layerOf(t,
				file("etc/os-release", osRelease),
				file("var/lib/dpkg/status", dpkgStatus1),
			),
			layerOf(t,
				file("var/lib/dpkg/status", dpkgStatus2),
				file("usr/lib/python3/dist-packages/numpy-1.24.2.dist-info/METADATA", metadata),
				tarEntry{name: "models/", typ: tar.TypeDir, mode: 0o777},
				file("models/evil.pkl", evilPickle),
				file("models/old.pkl", evilPickle),
				file("app/serve.py", "from transformers import AutoModel\nm = AutoModel.from_pretrained('x/y', trust_remote_code=True)\n"),
				file("root/.netrc", "machine huggingface.co login me password "+hf+"\n"),
				file("root/.git-credentials", "https://me:"+hf+"@github.com\n"),
				file("app/aws.env", "AWS_ACCESS_KEY_ID="+awsID+"\naws_secret_access_key = "+awsKey+"\n"),
				file("app/openai.txt", "key: "+openai+"\n"),
				file("app/sa.json", `{"type": "service_account", "private_key_id": "1", "private_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"}`),
				file("etc/jupyter/jupyter_server_config.py", "c.ServerApp.token = ''\n"),
				file("usr/local/cuda-12.4/targets/x86_64-linux/lib/libcudart.so.12.4.127", "x"),
				file("usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05", "x"),
				file("usr/local/cuda-12.4/lib64/stubs/libcuda.so", "x"),
				file("usr/lib/x86_64-linux-gnu/libnvidia-container.so.1.16.1", "x"),
				file("etc/nvidia-container-runtime/config.toml", "[nvidia-container-cli]\nldconfig = \"@/sbin/ldconfig\"\n"),
			),
			layerOf(t, file("models/.wh.old.pkl", "")),
		},
		history: []string{"base", "ADD https://example.com/app.tar.gz /app/ # buildkit", "RUN rm /models/old.pkl"},
		cfg: func(c *v1.ConfigFile) {
			c.Config.Env = []string{"PATH=/usr/bin", "HF_TOKEN=" + hf}
			c.Config.Cmd = []string{"jupyter", "lab", "--ServerApp.token=''", "--ip=0.0.0.0"}
		},
	}
	res := analyze(t, writeLayout(t, b.image(t)), Options{Workers: 2})
	got := findings(res)
	for _, rule := range []string{
		"image-runs-as-root", "image-add-remote-url", "image-secret-huggingface", "image-secret-netrc",
		"image-secret-git-credentials", "image-secret-aws", "image-secret-openai", "image-secret-gcp",
		"image-jupyter-no-token", "image-model-dir-world-writable", "image-trust-remote-code",
		"image-file-hidden", "image-gpu-driver-in-image", "image-gpu-toolkit-in-image",
		"CVE-2024-0132", "CVE-2025-23266", "CVE-2025-23359", "pickle-process-exec",
	} {
		if len(got[rule]) == 0 {
			t.Errorf("no %s finding; got %v", rule, keys(got))
		}
	}
	// Masked: no finding message holds a whole secret.
	for _, a := range res.Artifacts {
		for _, f := range a.Findings {
			for _, s := range []string{hf, awsKey, openai, awsID} {
				if strings.Contains(f.Message, s) {
					t.Errorf("%s: %s shows a secret: %s", a.Path, f.Rule, f.Message)
				}
			}
		}
	}
	// Models carry their layer and state; the deleted one is still reported.
	evil, old := artifact(res, "/models/evil.pkl"), artifact(res, "/models/old.pkl")
	if evil == nil || evil.Verdict != report.Malicious || evil.Properties["layer"] != "2" || evil.Properties["state"] != "present" {
		t.Fatalf("evil.pkl: %+v", evil)
	}
	if old == nil || old.Properties["state"] != "deleted" || old.Verdict != report.Malicious {
		t.Fatalf("old.pkl: %+v", old)
	}
	// Packages, with the layer that installed them.
	layers := map[string]string{}
	for _, p := range res.Packages {
		layers[p.Ecosystem+"/"+p.Name] = strings.TrimSpace(string(rune('0' + p.Layer)))
	}
	if layers["Debian:12/libc6"] != "1" || layers["Debian:12/python3-numpy"] != "2" || layers["PyPI/numpy"] != "2" {
		t.Errorf("packages and layers: %v", layers)
	}
	// GPU stack facts.
	if c := res.GPU.Get("cuda-runtime"); c == nil || c.Version != "12.4.127" {
		t.Errorf("cuda runtime: %+v", c)
	}
	if c := res.GPU.Get("nvidia-driver"); c == nil || c.Version != "535.104.05" || len(c.Paths) != 1 {
		t.Errorf("driver (stubs must not count): %+v", c)
	}
	if c := res.GPU.Get("nvidia-container-toolkit"); c == nil || c.Version != "1.16.1" {
		t.Errorf("toolkit: %+v", c)
	}
	// The BOM is built from the same inventory.
	doc := res.BOM()
	if doc.Subject.Kind != "container" || len(doc.Components) < len(res.Packages)+len(res.Models) {
		t.Errorf("bom: %d components for %d packages and %d models", len(doc.Components), len(res.Packages), len(res.Models))
	}
}

func keys(m map[string][]string) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	return k
}

func TestImage_NoFalseSecrets(t *testing.T) {
	// Placeholders, documentation examples and test data are not secrets.
	b := built{layers: []v1.Layer{layerOf(t,
		file("app/README.md", "export HF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nAKIAIOSFODNN7EXAMPLE\nsk-proj-your-key-here\n"),
		file("app/config.py", "OPENAI_API_KEY = os.environ['OPENAI_API_KEY']\nHF_TOKEN = '<your token>'\n"),
		file("usr/lib/python3/dist-packages/huggingface_hub/tests/test_auth.py", "TOKEN = 'hf_"+"QwZrLpXkNvBtMcHdFsGjYaUeIoPaSdFgHj'\n"),
		file("root/.netrc", "machine example.com login me password changeme\n"),
	)}, cfg: func(c *v1.ConfigFile) {
		c.Config.User = "app"
		c.Config.Env = []string{"HF_TOKEN=", "OPENAI_API_KEY=${OPENAI_API_KEY}"}
	}}
	res := analyze(t, writeLayout(t, b.image(t)), Options{})
	for rule, paths := range findings(res) {
		if strings.HasPrefix(rule, "image-secret") || rule == "image-runs-as-root" {
			t.Errorf("%s on %v", rule, paths)
		}
	}
}

func TestImage_BadInput(t *testing.T) {
	cases := []struct {
		name string
		es   []tarEntry
		rule string
	}{
		{"PathTraversal", []tarEntry{file("../../etc/passwd", "x")}, "image-path-traversal"},
		{"PathTraversalInside", []tarEntry{file("a/../../../etc/cron.d/x", "x")}, "image-path-traversal"},
		{"HardlinkOutside", []tarEntry{{name: "x", typ: tar.TypeLink, link: "../../etc/shadow"}}, "image-hardlink-escape"},
		{"HardlinkToNothing", []tarEntry{{name: "x", typ: tar.TypeLink, link: "etc/shadow"}}, "image-hardlink-escape"},
		{"SymlinkLoop", []tarEntry{{name: "a", typ: tar.TypeSymlink, link: "b"}, {name: "b", typ: tar.TypeSymlink, link: "a"}, file("a/x", "y")}, "image-symlink-loop"},
		{"Device", []tarEntry{{name: "opt/sda", typ: tar.TypeBlock}}, "image-special-file"},
		{"WhiteoutWithContent", []tarEntry{file("a/.wh.b", "boo")}, "image-whiteout-invalid"},
		{"WhiteoutDotDot", []tarEntry{file("a/.wh...", "")}, "image-whiteout-invalid"},
		{"WhiteoutSameLayer", []tarEntry{file("a/b", "x"), file("a/.wh.b", "")}, "image-whiteout-invalid"},
		{"LongName", []tarEntry{file(strings.Repeat("a/", 300)+"x", "y")}, "image-limit-reached"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := built{layers: []v1.Layer{layerOf(t, c.es...)}, cfg: func(cf *v1.ConfigFile) { cf.Config.User = "app" }}
			res := analyze(t, writeLayout(t, b.image(t)), Options{})
			if got := findings(res); len(got[c.rule]) == 0 {
				t.Fatalf("no %s; got %v", c.rule, keys(got))
			}
		})
	}
}

func TestImage_SymlinksResolveInsideTheImage(t *testing.T) {
	// /etc/os-release -> ../usr/lib/os-release (Debian's layout), and a
	// parent directory that is an absolute link written through: both
	// resolve inside the image, never on the host.
	b := built{layers: []v1.Layer{layerOf(t,
		file("usr/lib/os-release", "ID=other\n"),
		tarEntry{name: "etc", typ: tar.TypeSymlink, link: "/../../../../real-etc"},
		file("etc/os-release", osRelease), // lands in /real-etc
		file("var/lib/dpkg/status", dpkgStatus1),
	)}}
	res := analyze(t, writeLayout(t, b.image(t)), Options{})
	if len(res.Packages) != 1 || res.Packages[0].Ecosystem != "Debian:12" {
		t.Fatalf("packages through links: %+v", res.Packages)
	}
	_, err := os.Stat("/real-etc")
	if err == nil {
		t.Fatal("something was written on the host")
	}
}

func TestImage_DigestMismatch(t *testing.T) {
	img := built{layers: []v1.Layer{layerOf(t, file("a", "hello"))}}.image(t)
	dir := writeLayout(t, img)
	ls, _ := img.Layers()
	d, _ := ls[0].Digest()
	blob := filepath.Join(dir, "blobs", d.Algorithm, d.Hex)
	b, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	// Same length, other bytes: a swapped blob.
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(blob, b, 0o644); err != nil {
		t.Fatal(err)
	}
	res := analyze(t, dir, Options{})
	if got := findings(res); len(got["image-layer-digest-mismatch"]) == 0 && len(got["image-layer-invalid"]) == 0 {
		t.Fatalf("a modified blob was not reported: %v", keys(got))
	}
}

func TestImage_MalformedManifest(t *testing.T) {
	for name, index := range map[string]string{
		"NotJSON":     "{",
		"BadDigest":   `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../etc/passwd","size":10}]}`,
		"MissingBlob": `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":10}]}`,
		"Huge":        `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":99999999999}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
			os.WriteFile(filepath.Join(dir, "index.json"), []byte(index), 0o644)
			res := analyze(t, dir, Options{})
			if a := res.Artifacts[0]; a.Verdict != report.Invalid {
				t.Fatalf("verdict %s: %+v", a.Verdict, a.Findings)
			}
		})
	}
}

func TestImage_TarBomb(t *testing.T) {
	// 64 MiB of zeros compress to 64 KiB: with a ratio bound of 10 above
	// a 1 MiB floor the layer stops, and says so.
	big := tarEntry{name: "zeros", typ: tar.TypeReg, mode: 0o644, body: string(make([]byte, 64<<20))}
	img := built{layers: []v1.Layer{layerOf(t, big)}}.image(t)
	lim := DefaultLimits()
	lim.MaxRatio, lim.RatioFloor = 10, 1<<20
	res := analyze(t, writeLayout(t, img), Options{Limits: lim})
	if got := findings(res); len(got["image-limit-reached"]) == 0 {
		t.Fatalf("bomb not stopped: %v", keys(got))
	}
}

func TestImage_DockerArchiveAndRegistry(t *testing.T) {
	img := built{layers: []v1.Layer{layerOf(t, file("etc/os-release", osRelease), file("var/lib/dpkg/status", dpkgStatus2), file("m/evil.pkl", evilPickle))}}.image(t)
	// docker save tarball
	tarPath := filepath.Join(t.TempDir(), "img.tar")
	ref, _ := name.ParseReference("example.com/app:1")
	if err := tarball.WriteToFile(tarPath, ref, img); err != nil {
		t.Fatal(err)
	}
	check := func(res *Result) {
		t.Helper()
		if len(res.Packages) != 2 || artifact(res, "/m/evil.pkl") == nil {
			t.Fatalf("packages %d, artifacts %d", len(res.Packages), len(res.Artifacts))
		}
		if len(findings(res)["image-layer-digest-mismatch"]) > 0 {
			t.Fatal("digest mismatch on a good image")
		}
	}
	check(analyze(t, tarPath, Options{}))
	// an in-test registry on loopback
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	r, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/team/app:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	res := analyze(t, r.String(), Options{})
	check(res)
	if res.Kind != KindRegistry || !strings.HasPrefix(res.Digest, "sha256:") {
		t.Fatalf("kind %s digest %s", res.Kind, res.Digest)
	}
	// a missing tag is an error (exit 2), not an empty report
	if _, err := Analyze(context.Background(), strings.TrimPrefix(srv.URL, "http://")+"/team/none:1", Options{}); err == nil {
		t.Fatal("a missing image gave no error")
	}
}

func TestImage_RootFS(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	os.MkdirAll(filepath.Join(dir, "var/lib/dpkg"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc/os-release"), []byte(osRelease), 0o644)
	os.WriteFile(filepath.Join(dir, "var/lib/dpkg/status"), []byte(dpkgStatus2), 0o644)
	os.WriteFile(filepath.Join(dir, "evil.pkl"), []byte(evilPickle), 0o644)
	os.Symlink("/etc/shadow", filepath.Join(dir, "shadow")) // never followed on the host
	res := analyze(t, dir, Options{RootFS: true})
	if len(res.Packages) != 2 || artifact(res, "/evil.pkl") == nil {
		t.Fatalf("rootfs: %d packages, %+v", len(res.Packages), res.Artifacts)
	}
}

// FuzzLayer feeds arbitrary bytes as a layer: reading, squashing and the
// inventory must never panic or hang, and never write.
func FuzzLayer(f *testing.F) {
	f.Add(layerBytes(f, file("etc/os-release", osRelease), file("var/lib/dpkg/status", dpkgStatus1)))
	f.Add(layerBytes(f, tarEntry{name: "a", typ: tar.TypeSymlink, link: "b"}, tarEntry{name: "b", typ: tar.TypeSymlink, link: "a"}, file("a/x", "y")))
	f.Add(layerBytes(f, file("a/.wh..wh..opq", ""), tarEntry{name: "x", typ: tar.TypeLink, link: "a/b"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &run{lim: DefaultLimits(), opt: Options{Workers: 1}}
		r.engine = newTestEngine()
		src := &layerSrc{index: 0, size: int64(len(b)), ra: bytes.NewReader(b), raSize: int64(len(b)), open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b)), nil
		}}
		lr := r.readLayer(context.Background(), src)
		tr := newTree()
		tr.apply(lr)
		img := &report.Artifact{}
		r.extract(context.Background(), tr, img)
	})
}

// TestGoBuildInfo reads the build information of this test binary both
// ways: from the section table, and from a stream.
func TestGoBuildInfo(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	f, err := os.Open(exe)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	a, ok := elfBuildInfo(f)
	if !ok || !strings.HasPrefix(a.info.GoVersion, "go1.") {
		t.Fatalf("elf: %v %+v", ok, a.info)
	}
	f.Seek(0, io.SeekStart)
	b, ok := findGoBuildInfo(f)
	if !ok || b.info.GoVersion != a.info.GoVersion || len(b.info.Deps) != len(a.info.Deps) {
		t.Fatalf("stream: %v %+v", ok, b.info)
	}
	// A test binary lists no dependencies: the toolchain is its package.
	if ps := goPackages([]goBinary{a}); len(ps) == 0 || ps[0].Name != "stdlib" || "go"+ps[0].Version != a.info.GoVersion {
		t.Fatalf("packages from the build information: %+v", ps)
	}
}
