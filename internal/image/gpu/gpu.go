// Package gpu identifies the GPU software stack baked into a container
// image: the CUDA runtime and toolkit, cuDNN, NCCL and TensorRT with their
// versions, NVIDIA driver user-space libraries (which belong on the host),
// and the NVIDIA Container Toolkit with its configuration. It checks what
// it finds against an embedded list of NVIDIA advisories
// (advisories.yaml), each citing its NVIDIA security bulletin.
//
// It reads file names, a few small files (version headers, version.json,
// the toolkit's config.toml), the environment and the package inventory;
// it never loads a library.
package gpu

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"
)

// Component names.
const (
	CUDARuntime = "cuda-runtime"
	CUDAToolkit = "cuda-toolkit"
	CuDNN       = "cudnn"
	NCCL        = "nccl"
	TensorRT    = "tensorrt"
	Driver      = "nvidia-driver"
	Toolkit     = "nvidia-container-toolkit"
)

// File is one file of the final filesystem, as the caller lists it.
type File struct {
	Path  string // relative to the root, forward slashes
	Layer int    // 1-based
}

// Package is one package of the inventory (dpkg, rpm, apk, PyPI, conda).
type Package struct {
	Ecosystem, Name, Version string
	Layer                    int
}

// Input is what the stack is identified from.
type Input struct {
	Files    []File
	Read     func(p string) ([]byte, bool) // kept content of small files
	Env      []string
	Packages []Package
}

// Component is one part of the stack.
type Component struct {
	Name    string
	Version string
	// Source says where the version was read ("libcudart.so.12.4.127",
	// "/usr/local/cuda/version.json", "env CUDA_VERSION", "dpkg
	// libcudnn9-cuda-12").
	Source string
	// Paths are the files that make it up (driver libraries, the
	// toolkit's binaries), sorted, at most 20.
	Paths []string
	Layer int
	// Facts are other observations (toolkit configuration settings).
	Facts []Fact
}

// Fact is a named observation.
type Fact struct{ Key, Value string }

// Stack is what Identify found.
type Stack struct {
	Components []*Component
}

// Get returns the named component, or nil.
func (s *Stack) Get(name string) *Component {
	for _, c := range s.Components {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var (
	versionedLib = regexp.MustCompile(`^lib(cudart|cudnn|cudnn_[a-z_]+|nccl|nvinfer)\.so\.(\d+(?:\.\d+){1,3})$`)
	driverLib    = regexp.MustCompile(`^lib(cuda|nvidia-[a-z0-9-]+|nvcuvid|nvoptix)\.so\.(\d{3}\.\d+(?:\.\d+)?)$`)
	toolkitLib   = regexp.MustCompile(`^libnvidia-container(?:-go)?\.so\.(\d+\.\d+\.\d+)$`)
	headerDefine = regexp.MustCompile(`(?m)^\s*#\s*define\s+([A-Z_]+)\s+(\d+)\b`)
)

var toolkitBinaries = map[string]bool{
	"nvidia-container-toolkit": true, "nvidia-container-runtime": true, "nvidia-container-runtime-hook": true,
	"nvidia-ctk": true, "nvidia-container-cli": true, "nvidia-cdi-hook": true,
}

var libComponent = map[string]string{"cudart": CUDARuntime, "cudnn": CuDNN, "nccl": NCCL, "nvinfer": TensorRT}

type builder struct {
	comps map[string]*Component
}

func (b *builder) get(name string, layer int) *Component {
	c := b.comps[name]
	if c == nil {
		c = &Component{Name: name, Layer: layer}
		b.comps[name] = c
	}
	return c
}

// set records a version when none from a better source was recorded:
// rank orders sources (files and packages before the environment).
func (b *builder) set(name, version, source string, layer int, rank int, ranks map[string]int) {
	if version == "" {
		return
	}
	c := b.get(name, layer)
	if r, ok := ranks[name]; ok && r <= rank && c.Version != "" {
		return
	}
	ranks[name] = rank
	c.Version, c.Source = version, source
	if layer > 0 {
		c.Layer = layer
	}
}

func addPath(c *Component, p string) {
	if len(c.Paths) < 20 {
		c.Paths = append(c.Paths, "/"+p)
	}
}

// Identify finds the GPU stack.
func Identify(in Input) *Stack {
	b := &builder{comps: map[string]*Component{}}
	ranks := map[string]int{}
	read := in.Read
	if read == nil {
		read = func(string) ([]byte, bool) { return nil, false }
	}
	for _, f := range in.Files {
		base := path.Base(f.Path)
		dir := "/" + path.Dir(f.Path) + "/"
		switch {
		case strings.Contains(dir, "/stubs/"):
			continue // link stubs of the CUDA toolkit, never loaded at run time
		case versionedLib.MatchString(base):
			m := versionedLib.FindStringSubmatch(base)
			name := libComponent[m[1]]
			if name == "" {
				name = CuDNN // libcudnn_ops and friends
			}
			b.set(name, m[2], base, f.Layer, 1, ranks)
			addPath(b.get(name, f.Layer), f.Path)
		case driverLib.MatchString(base) && !strings.Contains(dir, "/compat/"):
			m := driverLib.FindStringSubmatch(base)
			b.set(Driver, m[2], base, f.Layer, 1, ranks)
			addPath(b.get(Driver, f.Layer), f.Path)
		case toolkitLib.MatchString(base):
			b.set(Toolkit, toolkitLib.FindStringSubmatch(base)[1], base, f.Layer, 1, ranks)
			addPath(b.get(Toolkit, f.Layer), f.Path)
		case toolkitBinaries[base] && strings.HasSuffix(dir, "/bin/"):
			addPath(b.get(Toolkit, f.Layer), f.Path)
		case (base == "nvcc" || base == "nvdisasm" || base == "cuobjdump") && strings.HasSuffix(dir, "/bin/"):
			addPath(b.get(CUDAToolkit, f.Layer), f.Path)
		case base == "version.json" && strings.Contains(dir, "/cuda"):
			if data, ok := read(f.Path); ok {
				var v struct {
					CUDA struct{ Version string } `json:"cuda"`
				}
				if json.Unmarshal(data, &v) == nil && v.CUDA.Version != "" {
					b.set(CUDARuntime, v.CUDA.Version, "/"+f.Path, f.Layer, 0, ranks)
				}
			}
		case base == "version.txt" && strings.Contains(dir, "/cuda"):
			if data, ok := read(f.Path); ok {
				if m := regexp.MustCompile(`CUDA Version (\d+(?:\.\d+)+)`).FindSubmatch(data); m != nil {
					b.set(CUDARuntime, string(m[1]), "/"+f.Path, f.Layer, 0, ranks)
				}
			}
		case base == "cudnn_version.h" || base == "cudnn.h":
			if v := headerVersion(read, f.Path, "CUDNN_MAJOR", "CUDNN_MINOR", "CUDNN_PATCHLEVEL"); v != "" {
				b.set(CuDNN, v, "/"+f.Path, f.Layer, 0, ranks)
			}
		case base == "nccl.h":
			if v := headerVersion(read, f.Path, "NCCL_MAJOR", "NCCL_MINOR", "NCCL_PATCH"); v != "" {
				b.set(NCCL, v, "/"+f.Path, f.Layer, 0, ranks)
			}
		case base == "NvInferVersion.h":
			if v := headerVersion(read, f.Path, "NV_TENSORRT_MAJOR", "NV_TENSORRT_MINOR", "NV_TENSORRT_PATCH"); v != "" {
				b.set(TensorRT, v, "/"+f.Path, f.Layer, 0, ranks)
			}
		case f.Path == "etc/nvidia-container-runtime/config.toml":
			c := b.get(Toolkit, f.Layer)
			c.Facts = append(c.Facts, Fact{"config", "/" + f.Path})
			if data, ok := read(f.Path); ok {
				c.Facts = append(c.Facts, toolkitConfig(data)...)
			}
		}
	}
	for _, p := range in.Packages {
		name, v := packageComponent(p)
		if name != "" {
			b.set(name, v, strings.ToLower(p.Ecosystem)+" "+p.Name, p.Layer, 0, ranks)
		}
	}
	for _, kv := range in.Env {
		k, v, _ := strings.Cut(kv, "=")
		var name string
		switch k {
		case "CUDA_VERSION", "NV_CUDA_CUDART_VERSION":
			name = CUDARuntime
		case "CUDNN_VERSION", "NV_CUDNN_VERSION":
			name = CuDNN
		case "NCCL_VERSION", "NV_LIBNCCL_PACKAGE_VERSION":
			name = NCCL
		case "TENSORRT_VERSION", "TRT_VERSION":
			name = TensorRT
		case "NVIDIA_REQUIRE_CUDA", "NVIDIA_DRIVER_CAPABILITIES", "NVIDIA_VISIBLE_DEVICES":
			c := b.get(CUDARuntime, 0)
			c.Facts = append(c.Facts, Fact{"env " + k, v})
			continue
		default:
			continue
		}
		b.set(name, strings.TrimPrefix(v, "v"), "env "+k, 0, 2, ranks)
	}
	s := &Stack{}
	for _, c := range b.comps {
		sort.Strings(c.Paths)
		s.Components = append(s.Components, c)
	}
	sort.Slice(s.Components, func(i, j int) bool { return s.Components[i].Name < s.Components[j].Name })
	return s
}

func headerVersion(read func(string) ([]byte, bool), p, major, minor, patch string) string {
	data, ok := read(p)
	if !ok {
		return ""
	}
	d := map[string]string{}
	for _, m := range headerDefine.FindAllSubmatch(data, -1) {
		d[string(m[1])] = string(m[2])
	}
	if d[major] == "" || d[minor] == "" {
		return ""
	}
	v := d[major] + "." + d[minor]
	if d[patch] != "" {
		v += "." + d[patch]
	}
	return v
}

var (
	debCUDART = regexp.MustCompile(`^cuda-cudart-\d+-\d+$`)
	debCuDNN  = regexp.MustCompile(`^libcudnn\d+(-cuda-\d+)?$`)
	debInfer  = regexp.MustCompile(`^libnvinfer\d+$`)
	debDriver = regexp.MustCompile(`^(libnvidia-compute-\d+|nvidia-driver-\d+|libnvidia-gl-\d+|nvidia-utils-\d+)$`)
)

// packageComponent maps an installed package to the component it is.
func packageComponent(p Package) (string, string) {
	n := strings.ToLower(p.Name)
	v := p.Version
	if p.Ecosystem != "PyPI" {
		v = upstream(v)
	}
	switch {
	case n == "nvidia-container-toolkit" || n == "nvidia-container-toolkit-base" || n == "libnvidia-container1" || n == "libnvidia-container-tools":
		return Toolkit, v
	case debCUDART.MatchString(n) || strings.HasPrefix(n, "nvidia-cuda-runtime-cu") || n == "cudatoolkit" || n == "cuda-cudart":
		return CUDARuntime, v
	case debCuDNN.MatchString(n) || strings.HasPrefix(n, "nvidia-cudnn-cu") || n == "cudnn":
		return CuDNN, v
	case n == "libnccl2" || strings.HasPrefix(n, "nvidia-nccl-cu") || n == "nccl":
		return NCCL, v
	case debInfer.MatchString(n) || n == "tensorrt" || strings.HasPrefix(n, "tensorrt-cu"):
		return TensorRT, v
	case debDriver.MatchString(n):
		return Driver, v
	}
	return "", ""
}

// upstream drops a Debian or RPM revision and epoch: "1:1.16.1-1" -> 1.16.1,
// "8.9.7.29-1+cuda12.2" -> 8.9.7.29.
func upstream(v string) string {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	if i := strings.IndexByte(v, '-'); i >= 0 {
		v = v[:i]
	}
	if i := strings.IndexByte(v, '~'); i >= 0 {
		v = v[:i]
	}
	return v
}

// toolkitConfig reports the settings of the NVIDIA Container Runtime's
// config.toml that decide which hooks run and how.
func toolkitConfig(data []byte) []Fact {
	var c map[string]any
	if _, err := toml.Decode(string(data), &c); err != nil {
		return []Fact{{"config error", truncate(err.Error(), 200)}}
	}
	var out []Fact
	get := func(section, key string) (any, bool) {
		s, ok := c[section].(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok := s[key]
		return v, ok
	}
	for _, k := range [][2]string{
		{"nvidia-container-runtime", "mode"},
		{"nvidia-container-cli", "ldconfig"},
		{"nvidia-container-cli", "no-cgroups"},
		{"nvidia-container-cli", "user"},
		{"nvidia-container-runtime-hook", "skip-mode-detection"},
		{"features", "disable-cuda-compat-lib-hook"},
		{"features", "allow-cuda-compat-libs-from-container"},
		{"features", "allow-ldconfig-from-container"},
	} {
		if v, ok := get(k[0], k[1]); ok {
			out = append(out, Fact{k[0] + "." + k[1], fmt.Sprint(v)})
		}
	}
	if v, ok := c["accept-nvidia-visible-devices-envvar-when-unprivileged"]; ok {
		out = append(out, Fact{"accept-nvidia-visible-devices-envvar-when-unprivileged", fmt.Sprint(v)})
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// --- advisories ---

//go:embed advisories.yaml
var advisoriesYAML []byte

// Advisory is one entry of advisories.yaml.
type Advisory struct {
	ID        string              `yaml:"id"`
	Component string              `yaml:"component"`
	Bulletin  string              `yaml:"bulletin"`
	Title     string              `yaml:"title"`
	Severity  string              `yaml:"severity"`
	CVSS      float64             `yaml:"cvss"`
	Match     string              `yaml:"match"`
	Stated    string              `yaml:"stated"`
	Affected  []string            `yaml:"affected"`
	Branches  map[string][]string `yaml:"branches"`
	Fixed     string              `yaml:"fixed"`
}

// Advisories returns the embedded list; a malformed list is a build
// error (tested).
var Advisories = sync.OnceValue(func() []Advisory {
	var doc struct {
		Advisories []Advisory `yaml:"advisories"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(advisoriesYAML)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		panic("gpu: advisories.yaml: " + err.Error())
	}
	return doc.Advisories
})

// Hit is an advisory that applies to a component.
type Hit struct {
	Advisory Advisory
	// Check is true when the range is not known: the component is present
	// and the bulletin must be checked by hand.
	Check bool
	// Why explains the match in words.
	Why string
}

// Match returns the advisories that apply to c.
func Match(c *Component) []Hit {
	var out []Hit
	for _, a := range Advisories() {
		if a.Component != c.Name {
			continue
		}
		if a.Match == "check" || c.Version == "" {
			why := "the bulletin's affected versions are not in aigis's data"
			if c.Version == "" {
				why = "the version could not be read"
			}
			out = append(out, Hit{Advisory: a, Check: true, Why: why})
			continue
		}
		ranges := a.Affected
		if a.Branches != nil {
			branch, _, _ := strings.Cut(c.Version, ".")
			r, ok := a.Branches[branch]
			if !ok {
				out = append(out, Hit{Advisory: a, Check: true, Why: fmt.Sprintf("the bulletin lists no fix for driver branch R%s", branch)})
				continue
			}
			ranges = r
		}
		for _, r := range ranges {
			if ok, err := inRange(c.Version, r); err == nil && ok {
				out = append(out, Hit{Advisory: a, Why: fmt.Sprintf("%s %s is %s (NVIDIA: %s)", c.Name, c.Version, r, a.Stated)})
				break
			}
		}
	}
	return out
}

// inRange compares a dotted version with "<= V" or "< V".
func inRange(v, r string) (bool, error) {
	op, want, ok := strings.Cut(strings.TrimSpace(r), " ")
	if !ok {
		return false, fmt.Errorf("range %q", r)
	}
	c, err := compare(v, want)
	if err != nil {
		return false, err
	}
	switch op {
	case "<=":
		return c <= 0, nil
	case "<":
		return c < 0, nil
	}
	return false, fmt.Errorf("range %q", r)
}

// compare orders dotted numeric versions ("535.104.05" < "535.309.01").
func compare(a, b string) (int, error) {
	pa, err := parts(a)
	if err != nil {
		return 0, err
	}
	pb, err := parts(b)
	if err != nil {
		return 0, err
	}
	for i := range max(len(pa), len(pb)) {
		x, y := 0, 0
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x != y {
			if x < y {
				return -1, nil
			}
			return 1, nil
		}
	}
	return 0, nil
}

func parts(v string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(v, ".") {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("version %q is not dotted numbers", v)
		}
		out = append(out, n)
	}
	return out, nil
}
