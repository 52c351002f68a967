package gpu

import (
	"strings"
	"testing"
)

// Every advisory cites an NVIDIA source, and a range entry quotes what
// NVIDIA states.
func TestAdvisories_CiteTheirBulletin(t *testing.T) {
	for _, a := range Advisories() {
		if !strings.Contains(a.Bulletin, "nvidia") || a.Stated == "" || a.ID == "" {
			t.Errorf("%s: bulletin %q, stated %q", a.ID, a.Bulletin, a.Stated)
		}
		if a.Match == "range" && len(a.Affected) == 0 && len(a.Branches) == 0 {
			t.Errorf("%s: a range entry without a range", a.ID)
		}
	}
}

func TestMatch(t *testing.T) {
	ids := func(c *Component) (out []string) {
		for _, h := range Match(c) {
			if !h.Check {
				out = append(out, h.Advisory.ID)
			}
		}
		return out
	}
	for _, c := range []struct {
		comp Component
		want string
	}{
		{Component{Name: Toolkit, Version: "1.16.1"}, "CVE-2024-0132,CVE-2024-0133,CVE-2024-0135,CVE-2025-23359,CVE-2025-23266,CVE-2025-23267"},
		{Component{Name: Toolkit, Version: "1.17.4"}, "CVE-2025-23266,CVE-2025-23267"},
		{Component{Name: Toolkit, Version: "1.17.8"}, ""},
		{Component{Name: Driver, Version: "535.104.05"}, "CVE-2025-33221"},
		{Component{Name: Driver, Version: "535.309.01"}, ""},
		{Component{Name: Driver, Version: "550.54.15"}, ""}, // R550: not in the bulletin, a check entry
	} {
		if got := strings.Join(ids(&c.comp), ","); got != c.want {
			t.Errorf("%s %s: %s, want %s", c.comp.Name, c.comp.Version, got, c.want)
		}
	}
}

func TestIdentify(t *testing.T) {
	s := Identify(Input{
		Files: []File{
			{Path: "usr/local/cuda-12.4/targets/x86_64-linux/lib/libcudart.so.12.4.127", Layer: 2},
			{Path: "usr/lib/x86_64-linux-gnu/libcudnn.so.9.1.0", Layer: 3},
			{Path: "usr/lib/x86_64-linux-gnu/libnccl.so.2.21.5", Layer: 3},
			{Path: "usr/lib/x86_64-linux-gnu/libnvinfer.so.10.0.1", Layer: 4},
			{Path: "usr/local/cuda-12.4/compat/libcuda.so.550.54.15", Layer: 2},
			{Path: "usr/local/cuda-12.4/lib64/stubs/libcuda.so", Layer: 2},
		},
		Env: []string{"CUDA_VERSION=12.4.1", "NVIDIA_VISIBLE_DEVICES=all"},
	})
	for name, want := range map[string]string{CUDARuntime: "12.4.127", CuDNN: "9.1.0", NCCL: "2.21.5", TensorRT: "10.0.1"} {
		if c := s.Get(name); c == nil || c.Version != want {
			t.Errorf("%s: %+v, want %s", name, c, want)
		}
	}
	if c := s.Get(Driver); c != nil {
		t.Errorf("compat and stubs libraries are not the driver: %+v", c)
	}
}
