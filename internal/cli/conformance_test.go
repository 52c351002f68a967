package cli

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/sign"
	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/report"
)

// conformanceCase is a test case of the OMS conformance suite
// (conformance/test-cases/**/config.json).
type conformanceCase struct {
	Description     string   `json:"description"`
	Method          string   `json:"method"`
	Model           string   `json:"model"`
	ModelRelativeTo string   `json:"model_relative_to"`
	Expect          string   `json:"expect"`
	RequiresCI      bool     `json:"requires_ci"`
	SigInsideModel  bool     `json:"sig_inside_model"`
	ExpectedSigned  []string `json:"expected_signed_files"`
	Sign            struct {
		PrivateKey  string   `json:"private_key"`
		SigningCert string   `json:"signing_cert"`
		CertChain   []string `json:"cert_chain"`
	} `json:"sign"`
	Verify struct {
		PublicKey           string   `json:"public_key"`
		CertChain           []string `json:"cert_chain"`
		Identity            string   `json:"identity"`
		IdentityProvider    string   `json:"identity_provider"`
		IgnorePaths         []string `json:"ignore_paths"`
		IgnoreUnsignedFiles bool     `json:"ignore_unsigned_files"`
	} `json:"verify"`
	Modifications struct {
		Delete   []string          `json:"delete"`
		Inject   map[string]string `json:"inject"`
		Tamper   map[string]string `json:"tamper"`
		Symlinks map[string]string `json:"symlinks"`
	} `json:"model_modifications"`
}

// negativeRules pins why each *_fail case fails: failing for another
// reason than the one the case is about would hide a bug.
var negativeRules = map[string]string{
	"certificate-expired_fail":          "certificate-untrusted",
	"certificate-simple-wrong-ca_fail":  "certificate-untrusted",
	"key-simple-corrupted-bundle_fail":  "bundle-malformed",
	"key-simple-extra-file_fail":        "file-extra",
	"key-simple-missing-file_fail":      "file-missing",
	"key-simple-no-signature_fail":      "bundle-malformed",
	"key-simple-tampered-content_fail":  "file-modified",
	"key-simple-truncated-bundle_fail":  "bundle-malformed",
	"key-simple-wrong-key_fail":         "wrong-key",
	"key-simple-wrong-mediatype_fail":   "bundle-malformed",
	"key-verify-as-certificate_fail":    "method-mismatch",
	"malformed-empty-bundle_fail":       "bundle-malformed",
	"malformed-missing-envelope_fail":   "bundle-malformed",
	"malformed-wrong-payload-type_fail": "bundle-malformed",
	// These payloads were edited after signing, so their signatures no
	// longer verify. TestConformance_MalformedPayloadsResigned signs them
	// again to check that the payload defect itself is caught.
	"malformed-empty-resources_fail":      "signature-invalid",
	"malformed-no-predicate_fail":         "signature-invalid",
	"malformed-no-subject_fail":           "signature-invalid",
	"malformed-wrong-predicate_fail":      "signature-invalid",
	"malformed-wrong-statement-type_fail": "signature-invalid",
	"sigstore-tampered-content_fail":      "file-modified",
	"sigstore-wrong-identity_fail":        "identity-mismatch",
	"sigstore-wrong-issuer_fail":          "identity-mismatch",
	// Its public key, keys/ec-p256/signing-key-pub.pem, is not in the
	// suite's assets: the CLI refuses to start (exit 2).
	// TestConformance_SigstoreBundleVerifiedAsKey checks the real reason.
	"sigstore-verify-as-key_fail": "",
}

type suiteTotals struct{ positive, negative, historical, roundtrip, skipped int }

func TestConformanceSuite(t *testing.T) {
	base := testutil.Shared(t, "vectors", "oms", "conformance")
	assets := filepath.Join(base, "assets")
	trusted := testutil.Shared(t, "vectors", "oms", "sigstore-trusted-root", "public-good.trusted_root.json")
	var totals suiteTotals
	for _, group := range []string{"verify/positive", "verify/negative", "verify/historical", "roundtrip"} {
		dirs, err := filepath.Glob(filepath.Join(base, "test-cases", group, "*", "config.json"))
		if err != nil || len(dirs) == 0 {
			t.Fatalf("no cases in %s", group)
		}
		for _, cfgPath := range dirs {
			dir := filepath.Dir(cfgPath)
			name := filepath.Base(dir)
			var c conformanceCase
			data, err := os.ReadFile(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &c); err != nil {
				t.Fatalf("%s: %v", cfgPath, err)
			}
			t.Run(group+"/"+name, func(t *testing.T) {
				if group == "roundtrip" {
					if c.Method == "sigstore" {
						totals.skipped++
						t.Skip("keyless signing needs an OIDC token and the public Sigstore services; its verification side is covered by the historical and negative sigstore cases")
					}
					runRoundtrip(t, &c, assets, name)
					totals.roundtrip++
					return
				}
				runVerifyCase(t, &c, dir, assets, trusted, name)
				switch group {
				case "verify/positive":
					totals.positive++
				case "verify/negative":
					totals.negative++
				default:
					totals.historical++
				}
			})
		}
	}
	t.Logf("conformance: %d positive, %d negative, %d historical, %d roundtrip passed; %d keyless roundtrips skipped", totals.positive, totals.negative, totals.historical, totals.roundtrip, totals.skipped)
	if totals != (suiteTotals{7, 23, 13, 23, 5}) && !t.Failed() {
		t.Errorf("ran %+v cases, want 7 positive, 23 negative, 13 historical, 23 roundtrip (5 keyless skipped)", totals)
	}
}

// copyModel copies a model (file or directory) into a fresh temporary
// directory, keeping its base name, so cases can modify it.
func copyModel(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func (c *conformanceCase) modify(t *testing.T, model string) {
	for _, p := range c.Modifications.Delete {
		if err := os.RemoveAll(filepath.Join(model, p)); err != nil {
			t.Fatal(err)
		}
	}
	for p, content := range c.Modifications.Inject {
		os.WriteFile(filepath.Join(model, p), []byte(content), 0o644)
	}
	for p, content := range c.Modifications.Tamper {
		if _, err := os.Stat(filepath.Join(model, p)); err != nil {
			t.Fatalf("tampering with a file the model lacks: %v", err)
		}
		os.WriteFile(filepath.Join(model, p), []byte(content), 0o644)
	}
	for p, target := range c.Modifications.Symlinks {
		if err := os.Symlink(target, filepath.Join(model, p)); err != nil {
			t.Skip("symlinks unsupported:", err)
		}
	}
}

func (c *conformanceCase) verifyArgs(assets, trusted, model, sig string) []string {
	args := []string{"verify", "-o", "json", "--signature", sig}
	switch c.Method {
	case "key":
		args = append(args, "--public-key", filepath.Join(assets, c.Verify.PublicKey))
	case "certificate":
		for _, p := range c.Verify.CertChain {
			args = append(args, "--certificate-chain", filepath.Join(assets, p))
		}
	case "sigstore":
		args = append(args, "--identity", c.Verify.Identity, "--identity-provider", c.Verify.IdentityProvider, "--trusted-root", trusted)
	}
	for _, p := range c.Verify.IgnorePaths {
		args = append(args, "--ignore-paths", p)
	}
	if c.Verify.IgnoreUnsignedFiles {
		args = append(args, "--ignore-unsigned-files")
	}
	return append(args, model)
}

func runVerifyCase(t *testing.T, c *conformanceCase, dir, assets, trusted, name string) {
	src := filepath.Join(assets, c.Model)
	if c.ModelRelativeTo == "test_dir" {
		src = filepath.Join(dir, c.Model)
	}
	model := copyModel(t, src)
	c.modify(t, model)
	r := runCLI(t, nil, c.verifyArgs(assets, trusted, model, filepath.Join(dir, "bundle.sig"))...)
	fail := c.Expect == "fail" || strings.HasSuffix(name, "_fail")
	if !fail {
		if r.code != ExitOK {
			t.Fatalf("%s\nexpected to verify, exit %d\n%s%s", c.Description, r.code, r.stdout, r.stderr)
		}
		if c.ExpectedSigned != nil {
			if got := verifiedFiles(t, r.stdout); !reflect.DeepEqual(got, sorted(c.ExpectedSigned)) {
				t.Errorf("verified files %v, want %v", got, c.ExpectedSigned)
			}
		}
		return
	}
	rule, pinned := negativeRules[name]
	if !pinned {
		t.Fatalf("new negative case %s: pin the rule it must fail with in negativeRules", name)
	}
	if rule == "" {
		if r.code != ExitError {
			t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
		}
		return
	}
	if r.code != ExitFindings {
		t.Fatalf("%s\nexpected verification to fail (exit 1), got exit %d\n%s%s", c.Description, r.code, r.stdout, r.stderr)
	}
	if got := failedRules(t, r.stdout); !got[rule] {
		t.Errorf("failed with %v, want %s\n%s", got, rule, r.stdout)
	}
}

func runRoundtrip(t *testing.T, c *conformanceCase, assets, name string) {
	model := copyModel(t, filepath.Join(assets, c.Model))
	c.modify(t, model)
	sig := filepath.Join(t.TempDir(), "model.sig")
	if c.SigInsideModel {
		sig = filepath.Join(model, "model.sig")
	}
	args := []string{"sign", "-o", "json", "--signature", sig, "--private-key", filepath.Join(assets, c.Sign.PrivateKey)}
	if c.Method == "certificate" {
		args = append(args, "--signing-cert", filepath.Join(assets, c.Sign.SigningCert))
		for _, p := range c.Sign.CertChain {
			args = append(args, "--cert-chain", filepath.Join(assets, p))
		}
	}
	for _, p := range c.Verify.IgnorePaths {
		args = append(args, "--ignore-paths", p)
	}
	s := runCLI(t, nil, append(args, model)...)
	if c.Expect == "fail" {
		if s.code == ExitOK {
			t.Fatalf("%s\nsigning succeeded, want a refusal\n%s", c.Description, s.stdout)
		}
		if s.code != ExitError || s.stderr == "" {
			t.Fatalf("refusal must be exit 2 with a reason: exit %d %q", s.code, s.stderr)
		}
		return
	}
	if s.code != ExitOK {
		t.Fatalf("sign: exit %d\n%s%s", s.code, s.stdout, s.stderr)
	}
	if got := verifiedFiles(t, s.stdout); c.ExpectedSigned != nil && !reflect.DeepEqual(got, sorted(c.ExpectedSigned)) {
		t.Errorf("signed files %v, want %v", got, c.ExpectedSigned)
	}
	if strings.Contains(name, "deterministic") {
		again := runCLI(t, nil, append(args, model)...)
		if again.code != ExitOK || rootDigest(t, again.stdout) != rootDigest(t, s.stdout) {
			t.Errorf("signing twice gave different manifests")
		}
	}
	if c.Verify.IgnoreUnsignedFiles {
		os.WriteFile(filepath.Join(model, "added-after-signing"), []byte("x"), 0o644)
	}
	v := runCLI(t, nil, c.verifyArgs(assets, "", model, sig)...)
	if v.code != ExitOK {
		t.Fatalf("verify after sign: exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}
	if c.ExpectedSigned != nil {
		if got := verifiedFiles(t, v.stdout); !reflect.DeepEqual(got, sorted(c.ExpectedSigned)) {
			t.Errorf("verified files %v, want %v", got, c.ExpectedSigned)
		}
	}
	// A roundtrip that verifies must also notice a change.
	tamperOneFile(t, model, verifiedFiles(t, v.stdout))
	if v := runCLI(t, nil, c.verifyArgs(assets, "", model, sig)...); v.code != ExitFindings || !failedRules(t, v.stdout)["file-modified"] {
		t.Errorf("tampered model: exit %d\n%s", v.code, v.stdout)
	}
}

// tamperOneFile flips the first byte of the first non-empty signed file.
func tamperOneFile(t *testing.T, model string, signed []string) {
	t.Helper()
	for _, name := range signed {
		p := filepath.Join(model, filepath.FromSlash(name))
		if name == "." {
			p = model
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) == 0 {
			continue
		}
		data[0] ^= 1
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("no non-empty signed file to tamper with")
}

func decodeReport(t *testing.T, out string) *report.Report {
	t.Helper()
	rep, err := report.Decode([]byte(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return rep
}

// verifiedFiles lists the manifest names of the report's model files
// (not the unsigned files --ignore-unsigned-files tolerated).
func verifiedFiles(t *testing.T, out string) []string {
	var names []string
	for _, a := range decodeReport(t, out).Artifacts {
		if a.Format == "model-file" && a.Properties["status"] != "unsigned" {
			names = append(names, a.Properties["name"])
		}
	}
	sort.Strings(names)
	return names
}

func failedRules(t *testing.T, out string) map[string]bool {
	rules := map[string]bool{}
	for _, a := range decodeReport(t, out).Artifacts {
		for _, f := range a.Findings {
			if f.Severity > report.SeverityInfo {
				rules[f.Rule] = true
			}
		}
	}
	return rules
}

func rootDigest(t *testing.T, out string) string {
	for _, a := range decodeReport(t, out).Artifacts {
		if a.Format == "oms-bundle" {
			return a.Properties["root_digest"]
		}
	}
	t.Fatal("no bundle artifact")
	return ""
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// The suite's sigstore-verify-as-key case names a key that is not in its
// assets; with a key that exists, the failure must name the real problem.
func TestConformance_SigstoreBundleVerifiedAsKey(t *testing.T) {
	base := testutil.Shared(t, "vectors", "oms", "conformance")
	dir := filepath.Join(base, "test-cases", "verify", "negative", "sigstore-verify-as-key_fail")
	model := copyModel(t, filepath.Join(dir, "model"))
	r := runCLI(t, nil, "verify", "-o", "json", "--signature", filepath.Join(dir, "bundle.sig"),
		"--public-key", filepath.Join(base, "assets", "keys", "certificate", "signing-key-pub.pem"), model)
	if r.code != ExitFindings || !failedRules(t, r.stdout)["method-mismatch"] {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// The suite's malformed-payload bundles were edited after signing. Signed
// again with the suite's key, each must still fail, now for the defect in
// its payload.
func TestConformance_MalformedPayloadsResigned(t *testing.T) {
	base := testutil.Shared(t, "vectors", "oms", "conformance")
	keyPEM, err := os.ReadFile(filepath.Join(base, "assets", "keys", "certificate", "signing-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := sign.ParsePrivateKey(keyPEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"malformed-empty-resources_fail":      "lists no resources",
		"malformed-no-predicate_fail":         "no predicate",
		"malformed-no-subject_fail":           "0 subjects",
		"malformed-wrong-predicate_fail":      "predicateType",
		"malformed-wrong-statement-type_fail": "_type",
	} {
		dir := filepath.Join(base, "test-cases", "verify", "negative", name)
		data, err := os.ReadFile(filepath.Join(dir, "bundle.sig"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := oms.ParseBundle(data)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := oms.SignatureHash(&key.PublicKey)
		d := h.New()
		d.Write(oms.PAE(b.Envelope.PayloadType, b.Envelope.Payload))
		sig, err := ecdsa.SignASN1(rand.Reader, key, d.Sum(nil))
		if err != nil {
			t.Fatal(err)
		}
		b.Envelope.Signatures = []oms.Signature{{Sig: sig}}
		out, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		resigned := filepath.Join(t.TempDir(), "bundle.sig")
		os.WriteFile(resigned, out, 0o644)
		model := copyModel(t, filepath.Join(base, "assets", "models", "simple"))
		r := runCLI(t, nil, "verify", "-o", "json", "--signature", resigned, "--ignore-paths", "ignore-me",
			"--public-key", filepath.Join(base, "assets", "keys", "certificate", "signing-key-pub.pem"), model)
		if r.code != ExitFindings || !failedRules(t, r.stdout)["bundle-malformed"] || !strings.Contains(r.stdout, want) {
			t.Errorf("%s re-signed: exit %d, want bundle-malformed mentioning %q\n%s", name, r.code, want, r.stdout)
		}
	}
}
