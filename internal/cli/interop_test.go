package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/testutil"
)

// scriptsVector is one of model_signing's scripts/tests/v* directories: a
// model signed by that release, with the verification its test script
// runs.
type scriptsVector struct {
	dir    string
	model  string   // the directory, or its one file for single-file bundles
	signed []string // manifest names
	args   []string // the signer flags the directory's name implies
}

func loadScriptsVectors(t *testing.T) []scriptsVector {
	base := testutil.Shared(t, "vectors", "oms", "model-transparency", "scripts-tests")
	keys := filepath.Join(base, "keys", "certificate")
	trusted := testutil.Shared(t, "vectors", "oms", "sigstore-trusted-root", "public-good.trusted_root.json")
	dirs, _ := filepath.Glob(filepath.Join(base, "v*"))
	var out []scriptsVector
	for _, dir := range dirs {
		v := scriptsVector{dir: dir, model: dir}
		switch name := filepath.Base(dir); {
		case strings.HasSuffix(name, "-certificate"):
			v.args = []string{"--certificate-chain", filepath.Join(keys, "ca-cert.pem")}
		case strings.HasSuffix(name, "-elliptic-key"):
			v.args = []string{"--public-key", filepath.Join(keys, "signing-key-pub.pem")}
		case strings.HasSuffix(name, "-sigstore"):
			v.args = []string{"--identity", "stefanb@us.ibm.com", "--identity-provider", "https://sigstore.verify.ibm.com/oauth2", "--trusted-root", trusted}
		default:
			t.Fatalf("unknown vector %s", name)
		}
		data, err := os.ReadFile(filepath.Join(dir, "model.sig"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := oms.ParseBundle(data)
		if err != nil {
			t.Fatal(err)
		}
		var stmt struct {
			Subject   []struct{ Name string } `json:"subject"`
			Predicate struct {
				Resources []struct{ Name string } `json:"resources"`
			} `json:"predicate"`
		}
		json.Unmarshal(b.Envelope.Payload, &stmt)
		for _, r := range stmt.Predicate.Resources {
			v.signed = append(v.signed, r.Name)
		}
		if v.signed == nil { // v0.2.0: one subject per file
			for _, s := range stmt.Subject {
				v.signed = append(v.signed, s.Name)
			}
		}
		// model_signing's scripts verify these bundles against signme-1
		// alone: a single-file model, named ".".
		if len(v.signed) == 1 && v.signed[0] == "." {
			v.model = filepath.Join(dir, "signme-1")
		}
		out = append(out, v)
	}
	if len(out) != 13 {
		t.Fatalf("found %d scripts-tests vectors, want 13", len(out))
	}
	return out
}

func (v *scriptsVector) verify(t *testing.T, model, sig string, extra ...string) result {
	args := append([]string{"verify", "-o", "json", "--signature", sig}, v.args...)
	if _, err := os.Stat(filepath.Join(filepath.Dir(sig), "ignore-me")); err == nil {
		// v1.0.1 recorded no ignore_paths; its script passes the path.
		args = append(args, "--ignore-paths", filepath.Join(filepath.Dir(sig), "ignore-me"))
	}
	return runCLI(t, nil, append(append(args, extra...), model)...)
}

// TestScriptsVectors_VerifyAsReleased: every bundle model_signing's
// releases wrote (v0.2.0 to v1.1.0, key, certificate and Sigstore) verifies
// with the signer its directory implies, and every signed file is checked.
func TestScriptsVectors_VerifyAsReleased(t *testing.T) {
	for _, v := range loadScriptsVectors(t) {
		t.Run(filepath.Base(v.dir), func(t *testing.T) {
			r := v.verify(t, v.model, filepath.Join(v.dir, "model.sig"))
			if r.code != ExitOK {
				t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if got := verifiedFiles(t, r.stdout); strings.Join(got, ",") != strings.Join(sorted(v.signed), ",") {
				t.Errorf("verified %v, want %v", got, v.signed)
			}
		})
	}
}

// TestScriptsVectors_DetectEveryChange: a copy of each model with one file
// modified, truncated, deleted, or with a file added, never verifies, and
// the report names the file and what happened to it.
func TestScriptsVectors_DetectEveryChange(t *testing.T) {
	for _, v := range loadScriptsVectors(t) {
		for _, change := range []struct {
			name, rule string
			apply      func(model, file string)
		}{
			{"modified", "file-modified", func(_, f string) { appendByte(f) }},
			{"flipped", "file-modified", func(_, f string) { flipFirstByte(f) }},
			{"truncated", "file-modified", func(_, f string) { os.Truncate(f, 1) }},
			{"deleted", "file-missing", func(_, f string) { os.Remove(f) }},
			{"added", "file-extra", func(m, _ string) { os.WriteFile(filepath.Join(m, "added.bin"), []byte("x"), 0o644) }},
		} {
			if v.model != v.dir && change.name == "added" {
				continue // a single-file model has no directory to add to
			}
			t.Run(filepath.Base(v.dir)+"/"+change.name, func(t *testing.T) {
				dir := copyModel(t, v.dir)
				model, file := dir, filepath.Join(dir, "signme-1")
				if v.model != v.dir {
					model = file
				}
				change.apply(dir, file)
				r := v.verify(t, model, filepath.Join(dir, "model.sig"))
				if model == file && change.name == "deleted" {
					// The model itself is gone: a usage error, as for scan.
					if r.code != ExitError || !strings.Contains(r.stderr, "no such file") {
						t.Fatalf("exit %d %q", r.code, r.stderr)
					}
					return
				}
				if r.code != ExitFindings {
					t.Fatalf("exit %d after the file was %s\n%s%s", r.code, change.name, r.stdout, r.stderr)
				}
				if !failedRules(t, r.stdout)[change.rule] {
					t.Errorf("want %s\n%s", change.rule, r.stdout)
				}
			})
		}
	}
}

// model_signing's scripts also verify from inside the model directory,
// with "." as the model and relative paths.
func TestScriptsVectors_FromInsideTheModel(t *testing.T) {
	for _, v := range loadScriptsVectors(t) {
		if v.model != v.dir || !strings.HasSuffix(v.dir, "sigstore") {
			continue
		}
		t.Run(filepath.Base(v.dir), func(t *testing.T) {
			t.Chdir(v.dir)
			args := append([]string{"verify", "--signature", "model.sig"}, v.args...)
			if _, err := os.Stat("ignore-me"); err == nil {
				args = append(args, "--ignore-paths", "ignore-me")
			}
			if r := runCLI(t, nil, append(args, ".")...); r.code != ExitOK {
				t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

func appendByte(p string) {
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{0})
	f.Close()
}

func flipFirstByte(p string) {
	data, _ := os.ReadFile(p)
	data[0] ^= 0x20
	os.WriteFile(p, data, 0o644)
}

// TestSpecVectors: the OMS specification's valid bundles verify against
// the models they were made from; the invalid ones are refused as
// malformed.
func TestSpecVectors(t *testing.T) {
	base := testutil.Shared(t, "vectors", "oms", "model-signing-spec", "test-vectors", "v1.0")
	assets := testutil.Shared(t, "vectors", "oms", "conformance", "assets")
	scripts := testutil.Shared(t, "vectors", "oms", "model-transparency", "scripts-tests")
	trusted := testutil.Shared(t, "vectors", "oms", "sigstore-trusted-root", "public-good.trusted_root.json")
	pub := []string{"--public-key", filepath.Join(assets, "keys", "certificate", "signing-key-pub.pem")}
	ca := []string{"--certificate-chain", filepath.Join(assets, "keys", "certificate", "ca-cert.pem")}
	keyless := []string{"--identity", "stefanb@us.ibm.com", "--identity-provider", "https://sigstore.verify.ibm.com/oauth2", "--trusted-root", trusted}
	simple := filepath.Join(assets, "models", "simple")
	for _, tc := range []struct {
		file   string
		signer []string
		model  string
		rule   string // "" = verifies
	}{
		{"valid/key.bundle.json", pub, simple, ""},
		{"valid/certificate.bundle.json", ca, simple, ""},
		{"valid/sigstore.bundle.json", keyless, filepath.Join(scripts, "v1.1.0-sigstore"), ""},
		{"invalid/empty.bundle.json", pub, simple, "bundle-malformed"},
		{"invalid/missing-envelope.bundle.json", pub, simple, "bundle-malformed"},
		{"invalid/missing-verification-material.bundle.json", pub, simple, "bundle-malformed"},
		{"invalid/missing-tlog-entries.bundle.json", keyless, filepath.Join(scripts, "v1.1.0-sigstore"), "bundle-malformed"},
		// Edited after signing, like the conformance suite's malformed
		// payloads: the signature no longer verifies.
		{"invalid-payload/wrong-predicate.bundle.json", pub, simple, "signature-invalid"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			model := copyModel(t, tc.model)
			args := append(append([]string{"verify", "-o", "json", "--signature", filepath.Join(base, tc.file)}, tc.signer...), model)
			r := runCLI(t, nil, args...)
			if tc.rule == "" {
				if r.code != ExitOK {
					t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
				}
				return
			}
			if r.code != ExitFindings || !failedRules(t, r.stdout)[tc.rule] {
				t.Fatalf("exit %d, want %s\n%s%s", r.code, tc.rule, r.stdout, r.stderr)
			}
		})
	}
	// Every vector is covered.
	all, _ := filepath.Glob(filepath.Join(base, "*", "*.json"))
	if len(all) != 8 {
		t.Errorf("the spec has %d vectors; this test covers 8", len(all))
	}
}
