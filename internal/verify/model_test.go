package verify_test

import (
	"context"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aigis-dev/aigis/internal/hashing"
	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/internal/sign"
	"github.com/aigis-dev/aigis/internal/verify"
	"github.com/aigis-dev/aigis/report"
)

var sampleFiles = map[string]string{
	"config.json":          `{"layers": 2}`,
	"weights.bin":          strings.Repeat("\x00\x01\x02\x03", 1000),
	"tokenizer/vocab.json": `{"a": 1}`,
	"tokenizer.json":       `{}`,
	"empty.bin":            "",
}

// Every curve, serialization and hash signs and verifies.
func TestModel_RoundTrip(t *testing.T) {
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		for _, opts := range []oms.Options{
			{},
			{Method: oms.MethodShards, ShardSize: 1000},
			{Method: oms.MethodShards, ShardSize: 7, Naming: oms.NamingSpec},
			{HashType: hashing.BLAKE2b},
			{HashType: hashing.BLAKE3, Naming: oms.NamingSpec},
		} {
			name := fmt.Sprintf("%s/%s/%s/%s", curve.Params().Name, opts.Method, opts.HashType, opts.Naming)
			k := newKey(t, curve)
			root := writeModel(t, sampleFiles)
			res := run(t, root, signModel(t, root, keySigner(t, k), opts), keyVerifier(t, k), verify.Options{})
			if !res.OK() {
				t.Errorf("%s: %v", name, failures(res))
			}
			// Shards omit the empty file; files lists it.
			if n := len(res.Files); n != len(sampleFiles) {
				t.Errorf("%s: %d files verified, want %d", name, n, len(sampleFiles))
			}
		}
	}
}

// Any change to the model is caught and named.
func TestModel_DetectsEveryChange(t *testing.T) {
	for _, method := range []oms.Method{oms.MethodFiles, oms.MethodShards} {
		for _, tc := range []struct {
			name   string
			change func(root string)
			want   map[string]string
		}{
			{"same-size edit", func(r string) { flip(r, "weights.bin", 3999) }, map[string]string{"weights.bin": "file-modified"}},
			{"appended byte", func(r string) { appendTo(r, "config.json", "\n") }, map[string]string{"config.json": "file-modified"}},
			{"truncated", func(r string) { os.Truncate(filepath.Join(r, "weights.bin"), 10) }, map[string]string{"weights.bin": "file-modified"}},
			{"emptied", func(r string) { os.Truncate(filepath.Join(r, "config.json"), 0) }, map[string]string{"config.json": "file-modified"}},
			{"deleted", func(r string) { os.Remove(filepath.Join(r, "tokenizer/vocab.json")) }, map[string]string{"tokenizer/vocab.json": "file-missing"}},
			{"added", func(r string) { os.WriteFile(filepath.Join(r, "extra.py"), []byte("import os"), 0o644) }, map[string]string{"extra.py": "file-extra"}},
			{"added empty", func(r string) { os.WriteFile(filepath.Join(r, "tokenizer/x"), nil, 0o644) }, map[string]string{"tokenizer/x": "file-extra"}},
			{"removed empty", func(r string) { os.Remove(filepath.Join(r, "empty.bin")) }, map[string]string{"empty.bin": "file-missing"}},
			{"renamed", func(r string) { os.Rename(filepath.Join(r, "config.json"), filepath.Join(r, "config2.json")) }, map[string]string{"config.json": "file-missing", "config2.json": "file-extra"}},
			{"swapped contents", func(r string) {
				a, _ := os.ReadFile(filepath.Join(r, "config.json"))
				b, _ := os.ReadFile(filepath.Join(r, "tokenizer.json"))
				os.WriteFile(filepath.Join(r, "config.json"), b, 0o644)
				os.WriteFile(filepath.Join(r, "tokenizer.json"), a, 0o644)
			}, map[string]string{"config.json": "file-modified", "tokenizer.json": "file-modified"}},
			{"replaced by a link", func(r string) {
				os.Rename(filepath.Join(r, "config.json"), filepath.Join(r, "..", "elsewhere"))
				os.Symlink(filepath.Join(r, "..", "elsewhere"), filepath.Join(r, "config.json"))
			}, map[string]string{"config.json": "symlink-not-allowed"}},
			{"added hidden directory", func(r string) {
				os.MkdirAll(filepath.Join(r, ".cache"), 0o755)
				os.WriteFile(filepath.Join(r, ".cache", "payload"), []byte("x"), 0o644)
			}, map[string]string{".cache/payload": "file-extra"}},
		} {
			if method == oms.MethodShards && strings.HasSuffix(tc.name, " empty") {
				// Shard manifests cannot list empty files (spec §6.3.2),
				// so adding or removing one is invisible to them.
				tc.want = nil
			}
			t.Run(string(method)+"/"+tc.name, func(t *testing.T) {
				k := newKey(t, elliptic.P256())
				root := writeModel(t, sampleFiles)
				sig := signModel(t, root, keySigner(t, k), oms.Options{Method: method, ShardSize: 1024})
				tc.change(root)
				res := run(t, root, sig, keyVerifier(t, k), verify.Options{})
				if tc.want == nil {
					if !res.OK() {
						t.Fatalf("%v", failures(res))
					}
					return
				}
				if res.OK() {
					t.Fatal("verified a changed model")
				}
				if got := failures(res); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("failures %v, want %v", got, tc.want)
				}
				rep := res.Report()
				if !rep.Fails(report.Gate{Threshold: report.SeverityLow}) {
					t.Error("the report does not fail")
				}
			})
		}
	}
}

func flip(root, name string, at int) {
	p := filepath.Join(root, name)
	data, _ := os.ReadFile(p)
	data[at] ^= 0xff
	os.WriteFile(p, data, 0o644)
}

func appendTo(root, name, s string) {
	f, _ := os.OpenFile(filepath.Join(root, name), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(s)
	f.Close()
}

// A shard failure says which byte ranges changed, and a size change says
// the sizes.
func TestModel_ShardFailuresNameRanges(t *testing.T) {
	k := newKey(t, elliptic.P256())
	root := writeModel(t, map[string]string{"w": strings.Repeat("x", 4000)})
	sig := signModel(t, root, keySigner(t, k), oms.Options{Method: oms.MethodShards, ShardSize: 1000})
	flip(root, "w", 2500)
	res := run(t, root, sig, keyVerifier(t, k), verify.Options{})
	if f := res.Files[0]; f.Rule != rules.FileModified || !strings.Contains(f.Msg, "bytes 2000-3000") || !strings.Contains(f.Msg, "1 of its shards") {
		t.Errorf("%+v", f)
	}
	appendTo(root, "w", "y")
	res = run(t, root, sig, keyVerifier(t, k), verify.Options{})
	if f := res.Files[0]; f.Rule != rules.FileModified || !strings.Contains(f.Msg, "4001 bytes, but 4000 bytes were signed") {
		t.Errorf("%+v", f)
	}
}

func TestModel_WrongKeyAndAlteredBundles(t *testing.T) {
	k, other := newKey(t, elliptic.P256()), newKey(t, elliptic.P256())
	root := writeModel(t, sampleFiles)
	sig := signModel(t, root, keySigner(t, k), oms.Options{})
	if r := run(t, root, sig, keyVerifier(t, other), verify.Options{}); r.Failure == nil || r.Failure.Rule != rules.WrongKey || len(r.Files) != 0 {
		t.Errorf("other key: %+v", r.Failure)
	}
	data, _ := os.ReadFile(sig)
	b, _ := oms.ParseBundle(data)

	// A flipped signature bit, and a payload edited to match a tampered
	// file: both break the signature.
	altered := *b
	altered.Envelope.Signatures = []oms.Signature{{Sig: append([]byte(nil), b.Envelope.Signatures[0].Sig...)}}
	altered.Envelope.Signatures[0].Sig[10] ^= 1
	if r := runBundle(t, root, &altered, keyVerifier(t, k)); r.Failure == nil || r.Failure.Rule != rules.SignatureInvalid {
		t.Errorf("flipped signature: %+v", r.Failure)
	}
	altered = *b
	m, _ := oms.ParseStatement(b.Envelope.Payload)
	m.Resources[0].Digest = make([]byte, 32)
	altered.Envelope.Payload, _ = m.Statement()
	if r := runBundle(t, root, &altered, keyVerifier(t, k)); r.Failure == nil || r.Failure.Rule != rules.SignatureInvalid {
		t.Errorf("edited payload: %+v", r.Failure)
	}
	// Pre-v1.1.0 bundles name the key by its PEM instead of a hint.
	altered = *b
	der, _ := x509.MarshalPKIXPublicKey(&other.PublicKey)
	altered.PublicKey = &oms.PublicKey{RawBytes: pemBlock("PUBLIC KEY", der)}
	if r := runBundle(t, root, &altered, keyVerifier(t, k)); r.Failure == nil || r.Failure.Rule != rules.WrongKey {
		t.Errorf("rawBytes naming another key: %+v", r.Failure)
	}
	der, _ = x509.MarshalPKIXPublicKey(&k.PublicKey)
	altered.PublicKey = &oms.PublicKey{RawBytes: pemBlock("PUBLIC KEY", der), KeyDetails: "PKIX_ECDSA_P256_SHA_256"}
	if r := runBundle(t, root, &altered, keyVerifier(t, k)); !r.OK() || len(r.Signer.Notes) == 0 {
		t.Errorf("rawBytes naming the right key: %+v %v", r.Failure, r.Signer)
	}
}

func runBundle(t *testing.T, root string, b *oms.Bundle, v verify.Verifier) *verify.Result {
	t.Helper()
	data, err := b.Marshal()
	if err != nil && b.PublicKey != nil && b.PublicKey.Hint == "" {
		// Marshal writes only v1.0 material; write the legacy form by hand.
		data = legacyKeyBundle(t, b)
	} else if err != nil {
		t.Fatal(err)
	}
	res, err := verify.Model(context.Background(), root, data, v, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func legacyKeyBundle(t *testing.T, b *oms.Bundle) []byte {
	out := map[string]any{
		"mediaType": oms.BundleMediaType,
		"verificationMaterial": map[string]any{"publicKey": map[string]any{
			"rawBytes": b.PublicKey.RawBytes, "keyDetails": b.PublicKey.KeyDetails}},
		"dsseEnvelope": map[string]any{"payload": b.Envelope.Payload, "payloadType": b.Envelope.PayloadType,
			"signatures": []any{map[string]any{"sig": b.Envelope.Signatures[0].Sig, "keyid": nil}}},
	}
	data, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func pemBlock(typ string, der []byte) []byte {
	return []byte("-----BEGIN " + typ + "-----\n" + wrap64(der) + "-----END " + typ + "-----\n")
}

func wrap64(der []byte) string {
	s := base64Std(der)
	var b strings.Builder
	for len(s) > 64 {
		b.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	return b.String() + s + "\n"
}

func TestModel_MethodMismatch(t *testing.T) {
	k := newKey(t, elliptic.P256())
	p := newPKI(t)
	root := writeModel(t, sampleFiles)
	sig := signModel(t, root, keySigner(t, k), oms.Options{})
	cv, _ := verify.CertificateChain([]*x509.Certificate{p.root})
	if r := run(t, root, sig, cv, verify.Options{}); r.Failure == nil || r.Failure.Rule != rules.MethodMismatch || !strings.Contains(r.Failure.Msg, "--public-key") {
		t.Errorf("%+v", r.Failure)
	}
}

func TestModel_CertificateChain(t *testing.T) {
	p := newPKI(t)
	k := newKey(t, elliptic.P256())
	now := time.Now()
	leaf := p.leaf(t, k, now.Add(-time.Minute), now.Add(time.Hour), x509.KeyUsageDigitalSignature)
	root := writeModel(t, sampleFiles)
	s, err := sign.WithCertificate(k, leaf, []*x509.Certificate{p.inter})
	if err != nil {
		t.Fatal(err)
	}
	sig := signModel(t, root, s, oms.Options{})
	trustRoot, _ := verify.CertificateChain([]*x509.Certificate{p.root})
	if r := run(t, root, sig, trustRoot, verify.Options{}); !r.OK() || r.Signer.Identity != "CN=model-signer" {
		t.Fatalf("%+v %+v", r.Failure, r.Signer)
	}
	// Trusting the intermediate alone is enough, as in model_signing.
	trustInter, _ := verify.CertificateChain([]*x509.Certificate{p.inter})
	if r := run(t, root, sig, trustInter, verify.Options{}); !r.OK() {
		t.Errorf("intermediate as anchor: %+v", r.Failure)
	}
	other := newPKI(t)
	wrongCA, _ := verify.CertificateChain([]*x509.Certificate{other.root})
	if r := run(t, root, sig, wrongCA, verify.Options{}); r.Failure == nil || r.Failure.Rule != rules.CertificateUntrusted || !strings.Contains(r.Failure.Msg, "model-signer") {
		t.Errorf("wrong CA: %+v", r.Failure)
	}

	payload := func() []byte {
		m, _ := oms.Build(context.Background(), root, oms.Options{})
		s, _ := m.Statement()
		return s
	}()
	pae := oms.PAE(oms.PayloadType, payload)
	for _, tc := range []struct {
		name string
		leaf *x509.Certificate
		want string
	}{
		{"expired", p.leaf(t, k, now.Add(-2*time.Hour), now.Add(-time.Hour), x509.KeyUsageDigitalSignature), "expired"},
		{"not yet valid", p.leaf(t, k, now.Add(time.Hour), now.Add(2*time.Hour), x509.KeyUsageDigitalSignature), "not yet valid"},
		{"no signing usage", p.leaf(t, k, now.Add(-time.Hour), now.Add(time.Hour), x509.KeyUsageKeyEncipherment), "digitalSignature"},
		{"code signing is enough", p.leaf(t, k, now.Add(-time.Hour), now.Add(time.Hour), 0, x509.ExtKeyUsageCodeSigning), ""},
	} {
		sig := signManually(t, payload, k, pae, curveHash(k), withChain(tc.leaf, p.inter))
		r := run(t, root, sig, trustRoot, verify.Options{})
		if tc.want == "" {
			if !r.OK() {
				t.Errorf("%s: %+v", tc.name, r.Failure)
			}
			continue
		}
		if r.Failure == nil || r.Failure.Rule != rules.CertificateUntrusted || !strings.Contains(r.Failure.Msg, tc.want) {
			t.Errorf("%s: %+v", tc.name, r.Failure)
		}
	}
}

// model_signing v0.2.0 signed "DSSEV1 ... b'...'" with SHA-256 and wrote
// one subject per file under the legacy predicate type.
func TestModel_LegacyV020Bundle(t *testing.T) {
	p := newPKI(t)
	k := newKey(t, elliptic.P384())
	now := time.Now()
	leaf := p.leaf(t, k, now.Add(-time.Minute), now.Add(time.Hour), x509.KeyUsageDigitalSignature)
	root := writeModel(t, map[string]string{"signme-1": "one\n", "signme-2": "two\n"})
	subject := func(name, content string) string {
		d := sha256.Sum256([]byte(content))
		return fmt.Sprintf(`{"name": %q, "digest": {"sha256": "%x"}, "annotations": {"actual_hash_algorithm": "file-sha256"}}`, name, d)
	}
	payload := []byte(`{"_type": "https://in-toto.io/Statement/v1", "subject": [` + subject("signme-1", "one\n") + `, ` + subject("signme-2", "two\n") +
		`], "predicateType": "https://model_signing/Digests/v0.1", "predicate": {"unused": "Unused, just passed due to API requirements"}}`)
	sha := func(b []byte) []byte { d := sha256.Sum256(b); return d[:] }
	sig := signManually(t, payload, k, oms.LegacyPAE(oms.PayloadType, payload), sha, withChain(leaf, p.inter))
	v, _ := verify.CertificateChain([]*x509.Certificate{p.root})
	r := run(t, root, sig, v, verify.Options{})
	if !r.OK() || len(r.Signer.Notes) != 2 {
		t.Fatalf("%+v %+v", r.Failure, r.Signer)
	}
	appendTo(root, "signme-2", "!")
	if r := run(t, root, sig, v, verify.Options{}); !reflect.DeepEqual(failures(r), map[string]string{"signme-2": "file-modified"}) {
		t.Errorf("%v", failures(r))
	}
}

// Verifiers must not require sorted resources: the root digest is
// recomputed in payload order.
func TestModel_ResourcesInAnyOrder(t *testing.T) {
	k := newKey(t, elliptic.P256())
	root := writeModel(t, sampleFiles)
	m, _ := oms.Build(context.Background(), root, oms.Options{})
	for i, j := 0, len(m.Resources)-1; i < j; i, j = i+1, j-1 {
		m.Resources[i], m.Resources[j] = m.Resources[j], m.Resources[i]
	}
	payload, _ := m.Statement() // subject digest over the reversed order
	sig := signManually(t, payload, k, oms.PAE(oms.PayloadType, payload), curveHash(k), withHint(k))
	if r := run(t, root, sig, keyVerifier(t, k), verify.Options{}); !r.OK() {
		t.Fatalf("reversed resources: %+v %v", r.Failure, failures(r))
	}
	// A subject digest that does not match the listed order is refused.
	sorted, _ := oms.Build(context.Background(), root, oms.Options{})
	bad := strings.Replace(string(payload), fmt.Sprintf("%x", m.RootDigest()), fmt.Sprintf("%x", sorted.RootDigest()), 1)
	sig = signManually(t, []byte(bad), k, oms.PAE(oms.PayloadType, []byte(bad)), curveHash(k), withHint(k))
	if r := run(t, root, sig, keyVerifier(t, k), verify.Options{}); r.Failure == nil || r.Failure.Rule != rules.BundleMalformed || !strings.Contains(r.Failure.Msg, "inconsistent") {
		t.Errorf("%+v", r.Failure)
	}
}

// A single-file model verifies whether its resource is "." (model_signing)
// or its basename (the OMS text), with files or shards.
func TestModel_SingleFileEitherNaming(t *testing.T) {
	for _, naming := range []oms.Naming{oms.NamingPython, oms.NamingSpec} {
		for _, method := range []oms.Method{oms.MethodFiles, oms.MethodShards} {
			k := newKey(t, elliptic.P256())
			root := writeModel(t, map[string]string{"": "single file model"})
			sig := signModel(t, root, keySigner(t, k), oms.Options{Naming: naming, Method: method, ShardSize: 5})
			if r := run(t, root, sig, keyVerifier(t, k), verify.Options{}); !r.OK() {
				t.Errorf("%v/%v: %+v %v", naming, method, r.Failure, failures(r))
			}
			appendTo(filepath.Dir(root), filepath.Base(root), "!")
			if r := run(t, root, sig, keyVerifier(t, k), verify.Options{}); r.OK() {
				t.Errorf("%v/%v: a changed single file verified", naming, method)
			}
		}
	}
}

func TestModel_IgnoreUnsignedFiles(t *testing.T) {
	k := newKey(t, elliptic.P256())
	root := writeModel(t, sampleFiles)
	sig := signModel(t, root, keySigner(t, k), oms.Options{})
	os.WriteFile(filepath.Join(root, "added.txt"), []byte("x"), 0o644)
	os.Symlink("config.json", filepath.Join(root, "added-link"))
	r := run(t, root, sig, keyVerifier(t, k), verify.Options{IgnoreUnsignedFiles: true})
	if !r.OK() {
		t.Errorf("unsigned files not ignored: %v", failures(r))
	}
	// Tolerated is not invisible: each unsigned file is reported as an
	// info finding that does not fail the run, with a verdict that is not
	// clean.
	rep := r.Report()
	rep.Finish()
	unsigned := map[string]report.Verdict{}
	for _, a := range rep.Artifacts {
		for _, f := range a.Findings {
			if f.Rule == string(rules.FileUnsigned) && f.Severity == report.SeverityInfo {
				unsigned[a.Properties["name"]] = a.Verdict
			}
		}
	}
	// Only asking for them (the CLI's gate with AllowIncomplete) lets the
	// unverified files pass.
	tolerant := report.Gate{Threshold: report.SeverityLow, AllowIncomplete: true}
	if len(unsigned) != 2 || unsigned["added.txt"] == report.Clean || unsigned["added-link"] == report.Clean || rep.Fails(tolerant) || !rep.Fails(report.Gate{Threshold: report.SeverityLow}) {
		t.Errorf("unsigned files not reported: %v (fails %v)", unsigned, rep.Fails(tolerant))
	}
	for _, a := range rep.Artifacts {
		if a.Format == "oms-bundle" && !strings.Contains(a.Findings[0].Message, "; 2 files not in the manifest tolerated") {
			t.Errorf("verified message %q", a.Findings[0].Message)
		}
	}
	// Listed files are still checked.
	flip(root, "weights.bin", 0)
	os.Remove(filepath.Join(root, "config.json"))
	want := map[string]string{"weights.bin": "file-modified", "config.json": "file-missing"}
	if r := run(t, root, sig, keyVerifier(t, k), verify.Options{IgnoreUnsignedFiles: true}); !reflect.DeepEqual(failures(r), want) {
		t.Errorf("%v", failures(r))
	}
}

func TestModel_IgnorePaths(t *testing.T) {
	k := newKey(t, elliptic.P256())
	root := writeModel(t, map[string]string{"model.bin": "m", "cache/tmp": "t", ".git/HEAD": "ref"})
	sig := signModel(t, root, keySigner(t, k), oms.Options{IgnorePaths: []string{"cache"}})
	os.WriteFile(filepath.Join(root, "cache", "new"), []byte("n"), 0o644)
	os.WriteFile(filepath.Join(root, ".git", "ORIG_HEAD"), []byte("n"), 0o644)
	// The signer's ignore_paths and the git defaults apply without flags.
	if r := run(t, root, sig, keyVerifier(t, k), verify.Options{}); !r.OK() {
		t.Errorf("%v", failures(r))
	}
	// A model signed with its git files lists them, and its recorded
	// ignore_paths say the signer hashed the git paths: they are verified
	// without flags, and a git path added after signing is an extra file.
	sig = signModel(t, root, keySigner(t, k), oms.Options{IgnorePaths: []string{"cache"}, IncludeGitPaths: true})
	if r := run(t, root, sig, keyVerifier(t, k), verify.Options{}); !r.OK() {
		t.Errorf("%v", failures(r))
	}
	os.MkdirAll(filepath.Join(root, ".github", "workflows"), 0o755)
	os.WriteFile(filepath.Join(root, ".github", "workflows", "x.yml"), []byte("on: push"), 0o644)
	if r := run(t, root, sig, keyVerifier(t, k), verify.Options{}); !reflect.DeepEqual(failures(r), map[string]string{".github/workflows/x.yml": "file-extra"}) {
		t.Errorf("a git path added to a model signed with its git paths: %v", failures(r))
	}
	// Leaving git paths out explicitly (model_signing's verifier default)
	// makes the signed ones missing, and the failure says why.
	r := run(t, root, sig, keyVerifier(t, k), verify.Options{IgnoreGitPaths: true})
	if got := failures(r); !reflect.DeepEqual(got, map[string]string{".git/HEAD": "file-missing", ".git/ORIG_HEAD": "file-missing"}) || !strings.Contains(r.Files[0].Msg, "--ignore-git-paths=false") {
		t.Errorf("%v %+v", got, r.Files)
	}
	os.RemoveAll(filepath.Join(root, ".github"))
	if r := run(t, root, sig, keyVerifier(t, k), verify.Options{IncludeGitPaths: true}); !r.OK() {
		t.Errorf("%v", failures(r))
	}
	// Ignoring a signed file does not make it optional.
	r = run(t, root, sig, keyVerifier(t, k), verify.Options{IgnorePaths: []string{"model.bin"}, IncludeGitPaths: true})
	if got := failures(r); !reflect.DeepEqual(got, map[string]string{"model.bin": "file-missing"}) || !strings.Contains(r.Files[len(r.Files)-1].Msg, `excluded by the ignore path "model.bin"`) {
		t.Errorf("%+v", r.Files)
	}
}

// A bundle that records no ignore_paths (model_signing before v1.1.0)
// cannot say whether its signer hashed git paths; they are left out, as
// those signers left them out, unless the caller includes them.
func TestModel_GitPathsOfBundlesWithoutIgnorePaths(t *testing.T) {
	k := newKey(t, elliptic.P256())
	root := writeModel(t, map[string]string{"model.bin": "m"})
	sig := signModel(t, root, keySigner(t, k), oms.Options{IncludeGitPaths: true})
	data, _ := os.ReadFile(sig)
	if strings.Contains(string(data), "ignore_paths") {
		t.Fatal("the bundle records ignore_paths")
	}
	os.MkdirAll(filepath.Join(root, ".git"), 0o755)
	os.WriteFile(filepath.Join(root, ".git", "HEAD"), []byte("ref"), 0o644)
	if r := run(t, root, sig, keyVerifier(t, k), verify.Options{}); !r.OK() {
		t.Errorf("%v", failures(r))
	}
	if r := run(t, root, sig, keyVerifier(t, k), verify.Options{IncludeGitPaths: true}); failures(r)[".git/HEAD"] != "file-extra" {
		t.Errorf("%v", failures(r))
	}
}

func TestModel_SymlinkPolicyFollowsTheSigner(t *testing.T) {
	k := newKey(t, elliptic.P256())
	root := writeModel(t, map[string]string{"real.bin": "data"})
	outside := filepath.Join(t.TempDir(), "blob")
	os.WriteFile(outside, []byte("blob"), 0o644)
	if err := os.Symlink(outside, filepath.Join(root, "linked.bin")); err != nil {
		t.Skip(err)
	}
	sig := signModel(t, root, keySigner(t, k), oms.Options{AllowSymlinks: true})
	if r := run(t, root, sig, keyVerifier(t, k), verify.Options{}); !r.OK() {
		t.Fatalf("%v", failures(r))
	}
	os.WriteFile(outside, []byte("changed"), 0o644)
	if r := run(t, root, sig, keyVerifier(t, k), verify.Options{}); failures(r)["linked.bin"] != "file-modified" {
		t.Errorf("%v", failures(r))
	}
	// Without allow_symlinks, a link that appears is refused by name.
	os.Remove(filepath.Join(root, "linked.bin"))
	sig = signModel(t, root, keySigner(t, k), oms.Options{})
	os.Symlink(outside, filepath.Join(root, "linked.bin"))
	if r := run(t, root, sig, keyVerifier(t, k), verify.Options{}); failures(r)["linked.bin"] != "symlink-not-allowed" {
		t.Errorf("%v", failures(r))
	}
}

func TestModel_SignatureInsideTheModel(t *testing.T) {
	k := newKey(t, elliptic.P256())
	root := writeModel(t, sampleFiles)
	sig := filepath.Join(root, "model.sig")
	if _, err := sign.Model(context.Background(), root, keySigner(t, k), sign.Options{Signature: sig}); err != nil {
		t.Fatal(err)
	}
	// Found as the --signature path, and recorded in ignore_paths.
	if r := run(t, root, sig, keyVerifier(t, k), verify.Options{}); !r.OK() {
		t.Errorf("%v", failures(r))
	}
	moved := filepath.Join(t.TempDir(), "moved.sig")
	os.Rename(sig, moved)
	os.WriteFile(sig, []byte("a stale bundle"), 0o644)
	if r := run(t, root, moved, keyVerifier(t, k), verify.Options{}); !r.OK() {
		t.Errorf("recorded ignore path not honoured: %v", failures(r))
	}
}

func TestModel_MalformedBundles(t *testing.T) {
	k := newKey(t, elliptic.P256())
	root := writeModel(t, sampleFiles)
	for _, data := range []string{"", "{", `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`, strings.Repeat("[", 100000)} {
		r, err := verify.Model(context.Background(), root, []byte(data), keyVerifier(t, k), verify.Options{})
		if err != nil || r.Failure == nil || r.Failure.Rule != rules.BundleMalformed || r.OK() {
			t.Errorf("%.20q: %v %+v", data, err, r)
		}
	}
	if _, err := verify.Model(context.Background(), filepath.Join(root, "nope"), []byte("{}"), keyVerifier(t, k), verify.Options{}); err != nil {
		t.Errorf("a bundle failure comes before the model is read: %v", err)
	}
}

func TestModel_ReportShape(t *testing.T) {
	k := newKey(t, elliptic.P256())
	root := writeModel(t, sampleFiles)
	sig := signModel(t, root, keySigner(t, k), oms.Options{})
	rep := run(t, root, sig, keyVerifier(t, k), verify.Options{}).Report()
	rep.Finish()
	if rep.Summary.Artifacts != len(sampleFiles)+1 || rep.Fails(report.Gate{Threshold: report.SeverityLow}) {
		t.Fatalf("%+v", rep.Summary)
	}
	b := rep.Artifacts[0] // the bundle comes first, then the files in manifest order
	if b.Format != "oms-bundle" || b.Findings[0].Rule != string(rules.Verified) || b.Properties["method"] != "key" || !strings.HasPrefix(b.Properties["root_digest"], "sha256:") {
		t.Errorf("%+v", b)
	}
}

// A signed manifest whose shards claim an enormous file, or do not tile
// it, is refused without materialising the layout.
func TestModel_ShardLayoutIsChecked(t *testing.T) {
	k := newKey(t, elliptic.P256())
	root := writeModel(t, map[string]string{"f": "0123456789"})
	for name, resources := range map[string][]oms.Resource{
		"huge file":   {{Name: "f:0:4"}, {Name: "f:4611686018427387900:4611686018427387904"}},
		"gap":         {{Name: "f:0:4"}, {Name: "f:8:10"}},
		"overlap":     {{Name: "f:0:4"}, {Name: "f:2:6"}, {Name: "f:6:10"}},
		"short piece": {{Name: "f:0:3"}, {Name: "f:3:10"}},
	} {
		for i := range resources {
			resources[i].Algorithm, resources[i].Digest = "sha256", make([]byte, 32)
		}
		m := &oms.Manifest{ModelName: "m", Resources: resources, Serialization: oms.Serialization{Method: oms.MethodShards, HashType: hashing.SHA256, ShardSize: 4}}
		payload, _ := m.Statement()
		sig := signManually(t, payload, k, oms.PAE(oms.PayloadType, payload), curveHash(k), withHint(k))
		r := run(t, root, sig, keyVerifier(t, k), verify.Options{})
		if r.Failure == nil || r.Failure.Rule != rules.BundleMalformed || !strings.Contains(r.Failure.Msg, "shard_size 4") {
			t.Errorf("%s: %+v %v", name, r.Failure, failures(r))
		}
	}
}

func TestModel_CallerIgnorePathsAreValidated(t *testing.T) {
	k := newKey(t, elliptic.P256())
	root := writeModel(t, sampleFiles)
	sig := signModel(t, root, keySigner(t, k), oms.Options{})
	data, _ := os.ReadFile(sig)
	if _, err := verify.Model(context.Background(), root, data, keyVerifier(t, k), verify.Options{IgnorePaths: []string{"../outside"}}); err == nil {
		t.Error("an ignore path outside the model was accepted")
	}
	if r := run(t, root, sig, keyVerifier(t, k), verify.Options{IgnorePaths: []string{"./tokenizer/"}}); failures(r)["tokenizer/vocab.json"] != "file-missing" {
		t.Errorf("ignore paths are not cleaned: %v", failures(r))
	}
}

func TestModel_SingleFileBundleAgainstADirectory(t *testing.T) {
	k := newKey(t, elliptic.P256())
	file := writeModel(t, map[string]string{"": "x"})
	sig := signModel(t, file, keySigner(t, k), oms.Options{})
	dir := writeModel(t, map[string]string{"x": "x"})
	r := run(t, dir, sig, keyVerifier(t, k), verify.Options{})
	if r.OK() || !strings.Contains(fmt.Sprint(r.Files), "this model is a directory") {
		t.Errorf("%+v", r.Files)
	}
}
