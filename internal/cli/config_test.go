package cli

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/report"
)

// weakening is a config file that would switch every gate off and hide
// every report, if aigis read it: it is what an attacker ships inside a
// model repository.
const weakening = `fail-on: none
allow-incomplete: true
file: /dev/null
ignore-unsigned-files: true
ignore-paths: [injected.py, .aigis.yaml, aigis.yaml]
skip-vulns: true
verify:
  ignore-unsigned-files: true
scan:
  fail-on: none
  file: /dev/null
`

// gateCase is one verb run over a tree that must fail its gate.
type gateCase struct {
	name string
	dir  string // the tree the attacker controls
	args []string
	want int
	// files: the targets are files in dir, so a config beside them is not
	// inside a target (only the current directory case applies).
	files bool
}

// gateCases builds, for every verb that has a gate, a tree that must fail
// it. Each tree is the attacker's: a config file inside it is theirs.
func gateCases(t *testing.T) []gateCase {
	priv, pub := keyPair(t)
	var cs []gateCase

	scanDir := t.TempDir()
	write(t, filepath.Join(scanDir, "model.pkl"), maliciousPickle, 0o644)
	cs = append(cs, gateCase{"scan", scanDir, []string{"scan", "-o", "json", scanDir}, ExitFindings, false})

	depsDir := t.TempDir()
	write(t, filepath.Join(depsDir, "requirements.txt"), []byte("deepseeek==0.1.0\n"), 0o644)
	cs = append(cs, gateCase{"deps", depsDir, []string{"deps", "--skip-vulns", "-o", "json", depsDir}, ExitFindings, false})

	bomDir := t.TempDir()
	write(t, filepath.Join(bomDir, "model.pkl"), maliciousPickle, 0o644)
	cs = append(cs, gateCase{"bom", bomDir, []string{"bom", "--scan", "--fail-on", "high", "-o", "cyclonedx-json", bomDir}, ExitFindings, false})

	diffDir := t.TempDir()
	base := writeModel(t, diffDir, "base.safetensors", nil)
	edited := writeModel(t, diffDir, "edited.safetensors", func(i int, b []byte) {
		if i == 5 {
			binary.LittleEndian.PutUint32(b[400:], math.Float32bits(9))
		}
	})
	cs = append(cs, gateCase{"diff", diffDir, []string{"diff", "-o", "json", base, edited}, ExitFindings, true})

	signed := modelDir(t)
	if r := runCLI(t, nil, "sign", "--private-key", priv, signed); r.code != ExitOK {
		t.Fatalf("sign: %d %s", r.code, r.stderr)
	}
	write(t, filepath.Join(signed, "injected.py"), []byte("import os; os.system('id')\n"), 0o644)
	cs = append(cs, gateCase{"verify", signed, []string{"verify", "-o", "json", "--public-key", pub, signed}, ExitFindings, false})
	return cs
}

// plant writes the attacker's config file into the tree under the names
// aigis might read: the old ./.aigis.yaml and the user config dir's name.
func plant(t *testing.T, dir string) (dotfile, cfgHome string) {
	dotfile = filepath.Join(dir, ".aigis.yaml")
	write(t, dotfile, []byte(weakening), 0o644)
	cfgHome = filepath.Join(dir, "cfg")
	write(t, filepath.Join(cfgHome, "aigis", "config.yaml"), []byte(weakening), 0o644)
	return dotfile, cfgHome
}

// TestConfig_TargetCannotWeakenTheGate is the trust model, verb by verb:
// a config file inside what is being checked is never read silently. In
// the current directory it is ignored; named by --config, $AIGIS_CONFIG
// or the user config dir it is refused (exit 2), whatever it says.
func TestConfig_TargetCannotWeakenTheGate(t *testing.T) {
	for _, c := range gateCases(t) {
		t.Run(c.name, func(t *testing.T) {
			dotfile, cfgHome := plant(t, c.dir)
			t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // no user config
			t.Chdir(c.dir)
			r := runCLI(t, nil, c.args...)
			if r.code != c.want || r.stdout == "" {
				t.Errorf("with ./.aigis.yaml in the target: exit %d, want %d; stdout %d bytes\n%s", r.code, c.want, len(r.stdout), r.stderr)
			}
			if c.files {
				return
			}
			for how, env := range map[string]map[string]string{
				"AIGIS_CONFIG": {"AIGIS_CONFIG": dotfile},
				"--config":     nil,
			} {
				args := c.args
				if how == "--config" {
					args = append([]string{"--config", dotfile}, args...)
				}
				if r := runCLI(t, env, args...); r.code != ExitError || !strings.Contains(r.stderr, "lies inside") {
					t.Errorf("config named by %s inside the target: exit %d %q", how, r.code, r.stderr)
				}
			}
			t.Setenv("XDG_CONFIG_HOME", cfgHome)
			if r := runCLI(t, nil, c.args...); r.code != ExitError || !strings.Contains(r.stderr, "lies inside") {
				t.Errorf("user config dir inside the target: exit %d %q", r.code, r.stderr)
			}
		})
	}
}

// sign and digest have no gate, but a config inside the model must not
// leave a file out of what is signed or hashed.
func TestConfig_TargetCannotHideFilesFromSigning(t *testing.T) {
	priv, pub := keyPair(t)
	model := modelDir(t)
	write(t, filepath.Join(model, "injected.py"), []byte("print(1)\n"), 0o644)
	plant(t, model)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Chdir(model)
	if r := runCLI(t, nil, "sign", "--private-key", priv, "."); r.code != ExitOK {
		t.Fatalf("sign: %d %s", r.code, r.stderr)
	}
	os.WriteFile(filepath.Join(model, "injected.py"), []byte("import os; os.system('id')\n"), 0o644)
	if r := runCLI(t, nil, "verify", "--public-key", pub, "."); r.code != ExitFindings {
		t.Errorf("a signed file edited after signing verifies: exit %d\n%s", r.code, r.stdout)
	}
	if r := runCLI(t, map[string]string{"AIGIS_CONFIG": filepath.Join(model, ".aigis.yaml")}, "digest", "."); r.code != ExitError {
		t.Errorf("digest with a config inside the model: exit %d", r.code)
	}
}

func TestConfig_OutsideTheTargetApplies(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "model.pkl"), maliciousPickle, 0o644)
	cfg := filepath.Join(t.TempDir(), "aigis.yaml")
	write(t, cfg, []byte("scan:\n  fail-on: none\n  output: json\n"), 0o644)
	r := runCLI(t, nil, "--config", cfg, "-v", "scan", dir)
	if r.code != ExitOK || !strings.HasPrefix(r.stdout, "{") {
		t.Errorf("config outside the target: exit %d %q", r.code, r.stdout)
	}
	if !strings.Contains(r.stderr, "config "+cfg) || !strings.Contains(r.stderr, "--fail-on=none from "+cfg) {
		t.Errorf("-v does not say which config is in use: %q", r.stderr)
	}
	home := t.TempDir()
	write(t, filepath.Join(home, "aigis", "config.yaml"), []byte("fail-on: none\n"), 0o644)
	t.Setenv("XDG_CONFIG_HOME", home)
	if r := runCLI(t, nil, "scan", dir); r.code != ExitOK {
		t.Errorf("user config dir: exit %d", r.code)
	}
	if r := runCLI(t, nil, "--config", "none", "scan", dir); r.code != ExitFindings {
		t.Errorf("--config none still read the user config: exit %d", r.code)
	}
}

func TestConfig_UnknownKeysAreErrors(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "model.pkl"), cleanPickle, 0o644)
	for _, doc := range []string{
		"fail_on: none\n",                 // a typo of fail-on
		"scna:\n  fail-on: none\n",        // a typo of a verb
		"scan:\n  fail-no: none\n",        // a typo inside a section
		"scan:\n  public-key: k.pub\n",    // another verb's flag
		"scan: none\n",                    // a section that is a value
		"fail-on:\n  scan: none\n",        // a value that is a section
		"scan:\n  fail-on: {a: b}\n",      // a nested mapping
		"config: other.yaml\n",            // not configurable
		"- fail-on\n",                     // not a mapping
		"fail-on: none\nfail-on: high\n",  // duplicate keys
		"scan:\n  fail-on: [high, low]\n", // a list where a word belongs
	} {
		cfg := filepath.Join(t.TempDir(), "c.yaml")
		write(t, cfg, []byte(doc), 0o644)
		if r := runCLI(t, nil, "--config", cfg, "scan", dir); r.code != ExitError {
			t.Errorf("%q: exit %d %q", doc, r.code, r.stderr)
		}
	}
}

func TestQuietSilencesWarnings(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "model.pkl"), cleanPickle, 0o644)
	r := runCLI(t, nil, "-q", "scan", "-o", "json", dir)
	if r.code != ExitOK || r.stderr != "" {
		t.Errorf("-q: exit %d stderr %q", r.code, r.stderr)
	}
	rep, err := report.Decode([]byte(r.stdout))
	if err != nil || len(rep.Artifacts) != 1 {
		t.Errorf("%v %s", err, r.stdout)
	}
}
