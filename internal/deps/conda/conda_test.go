package conda

import (
	"os"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
)

func TestParse_MapsCondaNamesAndReadsPipSection(t *testing.T) {
	env, err := Parse(strings.NewReader(`name: x
channels: [pytorch, conda-forge]
dependencies:
  - python=3.10
  - pytorch::pytorch=1.13.0=py3.10_cuda11.7_cudnn8.5.0_0
  - pytorch-mutex=1.0=cuda
  - py-xgboost==1.7.6
  - numpy>=1.21
  - scipy 1.10.1 py310h
  - pip:
      - --extra-index-url https://download.pytorch.org/whl/nightly
      - torchtriton==2.0.0
      - requests
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name, conda, channel, version string
		native                        bool
		line                          int
	}{
		{"python", "python", "", "3.10", true, 4},
		{"torch", "pytorch", "pytorch", "1.13.0", false, 5},
		{"pytorch-mutex", "pytorch-mutex", "", "1.0", true, 6},
		{"xgboost", "py-xgboost", "", "1.7.6", false, 7},
		{"numpy", "numpy", "", "", false, 8},
		{"scipy", "scipy", "", "1.10.1", false, 9},
		{"torchtriton", "", "pip", "2.0.0", false, 12},
		{"requests", "", "pip", "", false, 13},
	}
	if len(env.Packages) != len(want) {
		t.Fatalf("%d packages: %+v", len(env.Packages), env.Packages)
	}
	for i, w := range want {
		p := env.Packages[i]
		if p.Name != w.name || p.Conda != w.conda || p.Channel != w.channel || p.Version != w.version || p.Native != w.native || p.Line != w.line {
			t.Errorf("package %d: %+v, want %+v", i, p, w)
		}
	}
	if len(env.PipOptions) != 1 || env.PipOptions[0].Name != "--extra-index-url" || env.PipOptions[0].Line != 11 {
		t.Errorf("pip options %+v", env.PipOptions)
	}
}

func TestParse_SharedVulnerableML(t *testing.T) {
	f, err := os.Open(testutil.Shared(t, "projects", "vulnerable-ml", "environment.yml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range env.Packages {
		if !p.Native {
			got[p.Name] = p.Version
		}
	}
	// pytorch -> torch; python is native; pip section read.
	want := map[string]string{"torch": "1.13.0", "torchvision": "0.14.0", "numpy": "1.21.0", "pip": "", "mlflow": "2.1.0", "onnx": "1.12.0"}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
}

func TestParse_RejectsMalformed(t *testing.T) {
	cases := map[string]string{
		"not yaml":        "dependencies: [a, b",
		"top-level list":  "- a\n- b\n",
		"deps not a list": "dependencies: numpy\n",
		"pip not a list":  "dependencies:\n  - pip: numpy\n",
		"deep nesting":    "dependencies:\n  - " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n",
		"bad spec":        "dependencies:\n  - '==1.0'\n",
	}
	for name, y := range cases {
		if _, err := Parse(strings.NewReader(y)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestIsEnvironmentFile(t *testing.T) {
	for p, want := range map[string]bool{"environment.yml": true, "x/environment-gpu.yaml": true, "conda.yml": true, "docker-compose.yml": false, "environment.txt": false} {
		if IsEnvironmentFile(p) != want {
			t.Errorf("%s: %v", p, !want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("name: x\ndependencies:\n  - pytorch=1.13.0\n  - pip:\n    - torch==2.0\n")
	f.Add("dependencies:\n  - a::b>=1|<2\n  - {pip: [--extra-index-url x]}\n")
	f.Add("a: &a [*a]\n")
	f.Fuzz(func(t *testing.T, s string) {
		Parse(strings.NewReader(s))
	})
}
