package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/report"
)

// keyPair writes a fresh P-256 key pair as PEM files.
func keyPair(t *testing.T) (priv, pub string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	der, _ := x509.MarshalECPrivateKey(k)
	priv = filepath.Join(dir, "key.pem")
	os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
	der, _ = x509.MarshalPKIXPublicKey(&k.PublicKey)
	pub = filepath.Join(dir, "key.pub")
	os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
	return priv, pub
}

func modelDir(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "bert")
	os.MkdirAll(filepath.Join(dir, "tokenizer"), 0o755)
	os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte(strings.Repeat("weights", 1000)), 0o644)
	os.WriteFile(filepath.Join(dir, "tokenizer", "vocab.json"), []byte(`{"a":1}`), 0o644)
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(`{}`), 0o644)
	return dir
}

func TestSignVerifyDigest_EndToEnd(t *testing.T) {
	priv, pub := keyPair(t)
	for _, flags := range [][]string{
		nil,
		{"--method", "shards", "--shard-size", "1000"},
		{"--hash-algorithm", "blake3", "--naming", "spec"},
	} {
		model := modelDir(t)
		s := runCLI(t, nil, append(append([]string{"sign", "-o", "json", "--private-key", priv}, flags...), model)...)
		if s.code != ExitOK {
			t.Fatalf("%v: sign exit %d\n%s%s", flags, s.code, s.stdout, s.stderr)
		}
		if _, err := os.Stat(filepath.Join(model, "model.sig")); err != nil {
			t.Fatalf("default signature path: %v", err)
		}
		root := rootDigest(t, s.stdout)
		// digest with the same flags prints the signed root digest (the
		// bundle inside the model is left out, as sign left it out).
		d := runCLI(t, nil, append([]string{"digest"}, append(flags, model)...)...)
		if d.code != ExitOK || strings.TrimSpace(d.stdout) != root {
			t.Errorf("%v: digest %q (exit %d %s), signed root %s", flags, d.stdout, d.code, d.stderr, root)
		}
		v := runCLI(t, nil, "verify", "--public-key", pub, model)
		if v.code != ExitOK || !strings.Contains(v.stdout, "verified") {
			t.Fatalf("%v: verify exit %d\n%s%s", flags, v.code, v.stdout, v.stderr)
		}
		os.WriteFile(filepath.Join(model, "tokenizer.json"), []byte(`{"evil":1}`), 0o644)
		v = runCLI(t, nil, "verify", "--public-key", pub, model)
		if v.code != ExitFindings || !strings.Contains(v.stdout, "file-modified") || !strings.Contains(v.stdout, "tokenizer.json") {
			t.Errorf("%v: tampered model: exit %d\n%s", flags, v.code, v.stdout)
		}
		// SARIF works like for every verb.
		if v := runCLI(t, nil, "verify", "-o", "sarif", "--public-key", pub, model); v.code != ExitFindings || !strings.Contains(v.stdout, `"ruleId": "file-modified"`) {
			t.Errorf("sarif: exit %d\n%s", v.code, v.stdout)
		}
	}
}

// A single-file model's bundle is <file>.sig beside it, so two models in
// one directory keep their own signatures (both used to be model.sig, the
// second overwriting the first).
func TestSign_SingleFileSignatureGoesBesideIt(t *testing.T) {
	priv, pub := keyPair(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.gguf"), filepath.Join(dir, "b.gguf")
	os.WriteFile(a, []byte("GGUF a"), 0o644)
	os.WriteFile(b, []byte("GGUF b"), 0o644)
	for _, model := range []string{a, b} {
		if r := runCLI(t, nil, "sign", "--private-key", priv, model); r.code != ExitOK {
			t.Fatalf("exit %d %s", r.code, r.stderr)
		}
		if _, err := os.Stat(model + ".sig"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "model.sig")); err == nil {
		t.Error("model.sig written beside a single-file model")
	}
	for _, model := range []string{a, b} {
		if r := runCLI(t, nil, "verify", "--public-key", pub, model); r.code != ExitOK {
			t.Fatalf("%s: exit %d %s%s", model, r.code, r.stdout, r.stderr)
		}
	}
	// Each bundle is checked against its own file.
	os.WriteFile(a, []byte("GGUF evil"), 0o644)
	if r := runCLI(t, nil, "verify", "--public-key", pub, a); r.code != ExitFindings {
		t.Errorf("tampered a.gguf: exit %d", r.code)
	}
	if r := runCLI(t, nil, "verify", "--public-key", pub, b); r.code != ExitOK {
		t.Errorf("b.gguf: exit %d %s", r.code, r.stdout)
	}
}

// Bundles written by older aigis releases (model.sig beside a single
// file) still verify by default, but only the bundle whose manifest names
// exactly that file; <file>.sig always wins.
func TestVerify_SingleFileLegacyModelSig(t *testing.T) {
	priv, pub := keyPair(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.gguf"), filepath.Join(dir, "b.gguf")
	os.WriteFile(a, []byte("GGUF a"), 0o644)
	os.WriteFile(b, []byte("GGUF b"), 0o644)
	legacy := filepath.Join(dir, "model.sig")
	for _, naming := range [][]string{{"--naming", "python"}, {"--naming", "spec"}, {"--method", "shards", "--shard-size", "2"}} {
		if r := runCLI(t, nil, append(append([]string{"sign", "--private-key", priv, "--signature", legacy}, naming...), a)...); r.code != ExitOK {
			t.Fatalf("exit %d %s", r.code, r.stderr)
		}
		r := runCLI(t, nil, "verify", "--public-key", pub, a)
		if r.code != ExitOK || !strings.Contains(r.stderr, "model.sig") {
			t.Fatalf("%s: legacy model.sig naming a.gguf: exit %d %s%s", naming, r.code, r.stdout, r.stderr)
		}
		// The same bundle is not b.gguf's: a usage error that says why,
		// not a fallback to another model's signature.
		r = runCLI(t, nil, "verify", "--public-key", pub, b)
		if r.code != ExitError || !strings.Contains(r.stderr, "b.gguf.sig") || !strings.Contains(r.stderr, "a.gguf") {
			t.Errorf("%s: b.gguf with a's model.sig: exit %d %q", naming, r.code, r.stderr)
		}
	}
	// <file>.sig wins over model.sig, even when model.sig would verify.
	os.WriteFile(a+".sig", []byte("not a bundle"), 0o644)
	if r := runCLI(t, nil, "verify", "--public-key", pub, a); r.code != ExitFindings {
		t.Errorf("a.gguf.sig ignored: exit %d %s", r.code, r.stdout)
	}
	// A directory's model.sig is never taken for a file's.
	os.Remove(a + ".sig")
	sub := filepath.Join(dir, "sub")
	os.MkdirAll(sub, 0o755)
	os.WriteFile(filepath.Join(sub, "a.gguf"), []byte("GGUF a"), 0o644)
	os.Remove(legacy)
	if r := runCLI(t, nil, "sign", "--private-key", priv, "--signature", legacy, sub); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	if r := runCLI(t, nil, "verify", "--public-key", pub, a); r.code != ExitError {
		t.Errorf("a directory's bundle used for a file: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
}

func TestSign_EncryptedKeyPassword(t *testing.T) {
	key := filepath.Join("..", "sign", "testdata", "p256-pbkdf2-aes256.pem")
	pub := filepath.Join("..", "sign", "testdata", "p256-pub.pem")
	model := modelDir(t)
	// Not a terminal and no password: a clear usage error.
	r := runCLI(t, nil, "sign", "--private-key", key, model)
	if r.code != ExitError || !strings.Contains(r.stderr, "AIGIS_KEY_PASSWORD") {
		t.Fatalf("exit %d %q", r.code, r.stderr)
	}
	if r := runCLI(t, map[string]string{"AIGIS_KEY_PASSWORD": "wrong"}, "sign", "--private-key", key, model); r.code != ExitError || !strings.Contains(r.stderr, "wrong password") {
		t.Fatalf("wrong password: exit %d %q", r.code, r.stderr)
	}
	if r := runCLI(t, map[string]string{"AIGIS_KEY_PASSWORD": "correct horse"}, "sign", "--private-key", key, model); r.code != ExitOK {
		t.Fatalf("exit %d %q", r.code, r.stderr)
	}
	if r := runCLI(t, nil, "verify", "--public-key", pub, model); r.code != ExitOK {
		t.Fatalf("exit %d %s", r.code, r.stdout)
	}
}

func TestSignVerify_UsageErrorsExit2(t *testing.T) {
	priv, pub := keyPair(t)
	model := modelDir(t)
	if r := runCLI(t, nil, "sign", "--private-key", priv, model); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	missing := filepath.Join(t.TempDir(), "absent")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sign", model}, "--private-key"},
		{[]string{"sign", "--private-key", priv, missing}, "absent"},
		{[]string{"sign", "--private-key", priv, "--method", "tensors", model}, "--method"},
		{[]string{"sign", "--private-key", priv, "--hash-algorithm", "md5", model}, "--hash-algorithm"},
		{[]string{"sign", "--private-key", priv, "--naming", "go", model}, "--naming"},
		{[]string{"sign", "--private-key", priv, "--shard-size", "0", "--method", "shards", model}, "--shard-size"},
		{[]string{"sign", "--private-key", pub, model}, "private key"},
		{[]string{"sign", "--private-key", priv, "--cert-chain", pub, model}, "--signing-cert"},
		{[]string{"sign", "--private-key", priv, "--ignore-paths", "/etc", model}, "outside the model"},
		{[]string{"verify", model}, "choose exactly one"},
		{[]string{"verify", "--public-key", pub, "--certificate-chain", pub, model}, "choose exactly one"},
		{[]string{"verify", "--identity", "me@example.com", model}, "--identity-provider"},
		{[]string{"verify", "--public-key", pub, "--signature", missing, model}, "absent"},
		{[]string{"verify", "--public-key", priv, model}, "PUBLIC KEY"},
		{[]string{"verify", "--public-key", pub, missing}, "absent"},
		{[]string{"verify", "--public-key", pub, "-o", "xml", model}, "xml"},
		{[]string{"verify", "--public-key", pub, "--fail-on", "none", model}, "unknown flag"},
		{[]string{"digest", "--method", "tensors", model}, "--method"},
		{[]string{"digest"}, "arg"},
	} {
		r := runCLI(t, nil, tc.args...)
		if r.code != ExitError || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 mentioning %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// Flags come from the environment like every verb's.
func TestVerify_FlagsFromEnvironment(t *testing.T) {
	priv, pub := keyPair(t)
	model := modelDir(t)
	runCLI(t, nil, "sign", "--private-key", priv, model)
	if r := runCLI(t, map[string]string{"AIGIS_VERIFY_PUBLIC_KEY": pub}, "verify", model); r.code != ExitOK {
		t.Fatalf("exit %d %s", r.code, r.stderr)
	}
}

// `aigis digest` prints what `model_signing digest` prints for the same
// model and ignored paths.
func TestDigest_MatchesModelSigning(t *testing.T) {
	dir := testutil.Shared(t, "vectors", "oms", "model-transparency", "scripts-tests", "v1.1.0-sigstore")
	r := runCLI(t, nil, "digest", "--ignore-paths", filepath.Join(dir, "ignore-me"), "--ignore-paths", filepath.Join(dir, "model.sig"), dir)
	// The subject digest model_signing v1.1.0 signed for this model.
	if want := "sha256:61d4849d9d90076d6215f4d525f13d6574af8e3f67aef3e6f36fc40a14fdd226\n"; r.code != ExitOK || r.stdout != want {
		t.Fatalf("exit %d: %q, want %q (%s)", r.code, r.stdout, want, r.stderr)
	}
}

// `digest` prints the root digest a signature of the model records (the
// root_digest verify reports): it leaves the bundle out of the model as
// sign does, the default one and a --signature inside the model alike.
func TestDigest_EqualsTheSignedRootDigest(t *testing.T) {
	priv, pub := keyPair(t)
	single := filepath.Join(t.TempDir(), "model.gguf")
	os.WriteFile(single, []byte("GGUF..."), 0o644)
	for _, tc := range []struct {
		name  string
		model string
		sig   []string // --signature, when not the default
	}{
		{"directory", modelDir(t), nil},
		{"single file", single, nil},
		{"directory, --signature inside", modelDir(t), []string{"--signature", "sigs/bert.bundle"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sig := tc.sig
			if sig != nil {
				sig = []string{sig[0], filepath.Join(tc.model, sig[1])}
				os.MkdirAll(filepath.Dir(sig[1]), 0o755)
			}
			if r := runCLI(t, nil, append(append([]string{"sign", "--private-key", priv}, sig...), tc.model)...); r.code != ExitOK {
				t.Fatalf("sign: exit %d %s", r.code, r.stderr)
			}
			v := runCLI(t, nil, append(append([]string{"verify", "-o", "json", "--public-key", pub}, sig...), tc.model)...)
			if v.code != ExitOK {
				t.Fatalf("verify: exit %d %s%s", v.code, v.stdout, v.stderr)
			}
			d := runCLI(t, nil, append(append([]string{"digest"}, sig...), tc.model)...)
			if want := rootDigest(t, v.stdout); d.code != ExitOK || strings.TrimSpace(d.stdout) != want {
				t.Errorf("digest %q (exit %d %s), signed root %s", d.stdout, d.code, d.stderr, want)
			}
		})
	}
}

// Only the command line loosens verification: neither a config file (the
// user's own, or one shipped inside the model, which is never read) nor a
// variable can tolerate an added file; and an ignore path resolved from a
// directory inside the model names that directory's file, not another.
func TestVerify_OnlyTheCommandLineLoosensTheCheck(t *testing.T) {
	priv, pub := keyPair(t)
	model := modelDir(t)
	if r := runCLI(t, nil, "sign", "--private-key", priv, model); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	loosen := []byte("verify:\n  ignore-paths: [evil.py, .aigis.yaml]\n  ignore-unsigned-files: true\n  allow-symlinks: true\n  ignore-git-paths: true\n")
	os.WriteFile(filepath.Join(model, "evil.py"), []byte("import os"), 0o644)
	os.WriteFile(filepath.Join(model, ".aigis.yaml"), loosen, 0o644)
	userConfig := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(userConfig, loosen, 0o644)
	t.Chdir(model)
	extra := func(r result) map[string]bool {
		out := map[string]bool{}
		for _, a := range decodeReport(t, r.stdout).Artifacts {
			for _, f := range a.Findings {
				if f.Rule == "file-extra" {
					out[a.Properties["name"]] = true
				}
			}
		}
		return out
	}
	// A config in the model is never read, and the general variables
	// (meant for sign and digest) do not reach verify.
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"config in the model", nil},
		{"general variables", map[string]string{"AIGIS_IGNORE_UNSIGNED_FILES": "true", "AIGIS_IGNORE_PATHS": "evil.py,.aigis.yaml", "AIGIS_ALLOW_SYMLINKS": "true"}},
	} {
		r := runCLI(t, tc.env, "verify", "-o", "json", "--public-key", pub, ".")
		if got := extra(r); r.code != ExitFindings || !got["evil.py"] || !got[".aigis.yaml"] {
			t.Errorf("%s: exit %d, extra %v\n%s", tc.name, r.code, got, r.stderr)
		}
	}
	// Asking for it by verb, in a config or a variable, is an error.
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"user config", map[string]string{"AIGIS_CONFIG": userConfig}},
		{"verify's variable", map[string]string{"AIGIS_VERIFY_IGNORE_UNSIGNED_FILES": "true"}},
	} {
		if r := runCLI(t, tc.env, "verify", "-o", "json", "--public-key", pub, "."); r.code != ExitError || !strings.Contains(r.stderr, "only from the command line") {
			t.Errorf("%s: exit %d\n%s", tc.name, r.code, r.stderr)
		}
	}
	// On the command line, from inside the model, the same paths are
	// ignored.
	if r := runCLI(t, nil, "verify", "--public-key", pub, "--ignore-paths", "evil.py,.aigis.yaml", "."); r.code != ExitOK {
		t.Errorf("explicit --ignore-paths: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// --ignore-unsigned-files tolerates them, and still reports them.
	r := runCLI(t, nil, "verify", "-o", "json", "--public-key", pub, "--ignore-unsigned-files", ".")
	unsigned := 0
	for _, a := range decodeReport(t, r.stdout).Artifacts {
		for _, f := range a.Findings {
			if f.Rule == "file-unsigned" && f.Severity == report.SeverityInfo && a.Verdict != report.Clean {
				unsigned++
			}
		}
	}
	if r.code != ExitOK || unsigned != 2 {
		t.Errorf("--ignore-unsigned-files: exit %d, %d unsigned findings\n%s", r.code, unsigned, r.stdout)
	}
	// From a directory inside the model, a relative ignore path names the
	// file there: the evil.py at the model root is still an extra file.
	t.Chdir(filepath.Join(model, "tokenizer"))
	r = runCLI(t, nil, "verify", "-o", "json", "--public-key", pub, "--ignore-paths", "evil.py", "--ignore-paths", "../.aigis.yaml", "..")
	if got := extra(r); r.code != ExitFindings || !got["evil.py"] || got[".aigis.yaml"] {
		t.Errorf("from model/tokenizer: exit %d, extra %v", r.code, got)
	}
}
