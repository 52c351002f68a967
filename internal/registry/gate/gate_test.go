package gate

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aigis-dev/aigis/internal/sign"
	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/cdxschema"
)

// tinyModel is a clean model: weights, config, card and a tokenizer
// directory.
func tinyModel(license string) []file {
	return []file{
		{"README.md", readme(license)},
		{"config.json", configJSON},
		{"model.safetensors", safetensors},
		{"tokenizer/special_tokens_map.json", []byte(`{"bos_token": "<s>"}`)},
		{"tokenizer/tokenizer.json", tokenizer},
	}
}

// modelPack pushes files as a ModelPack artifact: top-level files as raw
// layers, the tokenizer directory as one tar+gzip layer.
func modelPack(t testing.TB, b *blobs, config []byte, files []file, extra ...lay) []byte {
	var layers []lay
	var tok []file
	for _, f := range files {
		switch {
		case strings.HasPrefix(f.name, "tokenizer/"):
			tok = append(tok, f)
		case f.name == "README.md":
			layers = append(layers, modelPackLayer("doc", f.name, f.data))
		case strings.HasSuffix(f.name, ".json"):
			layers = append(layers, modelPackLayer("weight.config", f.name, f.data))
		default:
			layers = append(layers, modelPackLayer("weight", f.name, f.data))
		}
	}
	if tok != nil {
		layers = append(layers, modelPackTar(t, "weight.config", PackingTarGzip, "tokenizer", tok...))
	}
	layers = append(layers, extra...)
	return manifestOf(b, ArtifactTypeModelPack, MediaTypeModelPackConfig, config, layers, nil)
}

// The acceptance case: a clean ModelPack model (raw and tar+gzip layers)
// signed by a trusted key, under an allowed licence, passes every gate;
// its metadata, BOM and per-file verdicts are in the result; running it
// again gives the same bytes.
func TestModelPack_SignedCleanModelPasses(t *testing.T) {
	b := newBlobs()
	s := newSigner(t)
	files := tinyModel("apache-2.0")
	m := modelPack(t, b, modelPackConfigJSON("tiny", "v1", "Apache-2.0"), files)
	a := Artifact{Manifest: m, Blobs: b, Referrers: [][]byte{referrer(b, m, s.sign(t, "", files...))}}
	res := run(t, a, Config{Trust: s.trust})
	if !res.Allowed || len(res.Reasons) > 0 || len(res.Errors) > 0 {
		t.Fatalf("not allowed: %v\n%s", res.Reasons, jsonOf(t, res))
	}
	if res.AutoApproved {
		t.Error("auto-approved without AutoApprove")
	}
	if res.Version != Version || res.Artifact.Kind != KindModelPack || res.Artifact.Files != 5 || len(res.Artifact.Layers) != 4 {
		t.Errorf("artifact: %s", jsonOf(t, res.Artifact))
	}
	if m := res.Model; m.Name != "tiny" || m.Version != "v1" || m.Architecture != "transformer" || m.Format != "safetensors" || m.ParamSize != "12" ||
		!slices.Equal(m.Licenses, []string{"Apache-2.0"}) {
		t.Errorf("model: %s", jsonOf(t, m))
	}
	if res.Scan.Verdict != "clean" {
		t.Errorf("scan: %s", jsonOf(t, res.Scan))
	}
	layerOf := map[string]string{}
	for _, f := range res.Scan.Files {
		layerOf[f.Path] = f.Layer
	}
	for _, f := range files {
		if layerOf[f.name] == "" {
			t.Errorf("%s: no per-file verdict with its layer (%v)", f.name, layerOf)
		}
	}
	if layerOf["tokenizer/tokenizer.json"] != res.Artifact.Layers[3].Digest {
		t.Errorf("tokenizer.json comes from the tar layer: %v", layerOf)
	}
	sig := res.Signature
	if !sig.Verified || len(sig.Bundles) != 1 || sig.Bundles[0].Source != "referrer" || sig.Bundles[0].Method != "key" || sig.Bundles[0].Files.OK != 5 {
		t.Errorf("signature: %s", jsonOf(t, sig))
	}
	if len(res.Licenses.Found) < 2 {
		t.Errorf("licences from the config and the card: %s", jsonOf(t, res.Licenses))
	}
	for _, l := range res.Licenses.Found {
		if !l.Allowed || l.ID != "Apache-2.0" {
			t.Errorf("licence %+v", l)
		}
	}
	if res.Deps.VulnerabilityDB || res.Deps.Note == "" {
		t.Errorf("deps without a database must say so: %+v", res.Deps)
	}
	// The BOM: CycloneDX 1.6, valid, naming the model as the repository
	// does, with a hash per file; its digest is in the result.
	if res.BOM == nil || res.Input.BOM.Digest != digestOf(res.BOM) || res.Input.BOM.SpecVersion != "1.6" {
		t.Fatalf("BOM: %+v", res.Input.BOM)
	}
	cdxschema.Validate(t, "1.6", res.BOM)
	var doc struct {
		Metadata struct {
			Timestamp string
			Component struct {
				Name, Version, Purl string
			}
		}
	}
	json.Unmarshal(res.BOM, &doc)
	if c := doc.Metadata.Component; c.Name != "tiny" || c.Version != "v1" || !strings.HasPrefix(c.Purl, "pkg:oci/tiny@sha256%3A") || doc.Metadata.Timestamp != "2026-12-01T12:00:00Z" {
		t.Errorf("BOM subject %+v at %s", c, doc.Metadata.Timestamp)
	}
	if !bytes.Contains(res.BOM, []byte(digestOf(safetensors)[len("sha256:"):])) {
		t.Error("the BOM lacks the weight file's SHA-256")
	}

	// Idempotent: the same artifact gives the same result and BOM.
	again := run(t, a, Config{Trust: s.trust})
	if jsonOf(t, again) != jsonOf(t, res) || !bytes.Equal(again.BOM, res.BOM) {
		t.Error("a second run differs")
	}
	// AutoApprove approves what passes.
	if r := run(t, a, Config{Trust: s.trust, AutoApprove: true}); !r.Allowed || !r.AutoApproved {
		t.Errorf("auto-approve: %v", r.Reasons)
	}
}

func hasReason(res *Result, parts ...string) bool {
	for _, r := range res.Reasons {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(r, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// An unsigned model fails, and so does one signed by a key the namespace
// does not trust, even with AutoApprove.
func TestUnsignedOrUntrustedFails(t *testing.T) {
	b := newBlobs()
	files := tinyModel("mit")
	m := modelPack(t, b, modelPackConfigJSON("tiny", "v1", "MIT"), files)
	s := newSigner(t)
	res := run(t, Artifact{Manifest: m, Blobs: b}, Config{Trust: s.trust, AutoApprove: true})
	if res.Allowed || res.AutoApproved || !hasReason(res, "signature: the model is not signed") || len(res.Reasons) != 1 {
		t.Errorf("unsigned: %v", res.Reasons)
	}
	other := newSigner(t)
	a := Artifact{Manifest: m, Blobs: b, Referrers: [][]byte{referrer(b, m, other.sign(t, "", files...))}}
	res = run(t, a, Config{Trust: s.trust})
	if res.Allowed || res.Signature.Verified || res.Signature.Bundles[0].Rule != "signer-untrusted" || !hasReason(res, "does not verify", "wrong-key") && !hasReason(res, "does not verify", "not by the given key") {
		t.Errorf("untrusted signer: %v\n%s", res.Reasons, jsonOf(t, res.Signature))
	}
	// With no trust configured at all, nothing verifies.
	if res := run(t, a, Config{}); res.Allowed || !hasReason(res, "trusts no key signer") {
		t.Errorf("no trust: %v", res.Reasons)
	}
}

// A malicious pickle in a layer fails the scan gate (the model is signed
// and licensed, so the scan is the only reason), whatever AutoApprove
// says.
func TestMaliciousPickleLayerFails(t *testing.T) {
	b := newBlobs()
	s := newSigner(t)
	files := append(tinyModel("apache-2.0"), file{"training_args.pkl", maliciousPickle})
	m := modelPack(t, b, modelPackConfigJSON("tiny", "v1", "Apache-2.0"), files)
	a := Artifact{Manifest: m, Blobs: b, Referrers: [][]byte{referrer(b, m, s.sign(t, "", files...))}}
	res := run(t, a, Config{Trust: s.trust, AutoApprove: true})
	if res.Allowed || res.AutoApproved || res.Scan.Verdict != "malicious" || !hasReason(res, "scan: training_args.pkl is malicious") || len(res.Reasons) != 1 {
		t.Fatalf("%v\n%s", res.Reasons, jsonOf(t, res.Scan))
	}
	if !res.Signature.Verified {
		t.Error("the signature is valid; only the scan fails")
	}
	for _, f := range res.Scan.Files {
		if f.Path == "training_args.pkl" && (f.WorstRule == "" || f.Layer == "" || len(f.Findings) == 0) {
			t.Errorf("finding not recorded: %+v", f)
		}
	}
	if res.Scan.Counts["malicious"] == 0 {
		t.Errorf("counts %v", res.Scan.Counts)
	}
}

// A file added to the artifact after signing, or a file changed after
// signing, fails the signature gate and is named.
func TestChangedAfterSigningFails(t *testing.T) {
	b := newBlobs()
	s := newSigner(t)
	files := tinyModel("apache-2.0")
	bundle := s.sign(t, "", files...)

	added := modelPack(t, b, modelPackConfigJSON("tiny", "v1", "Apache-2.0"), files, modelPackLayer("code", "hook.py", []byte("print('hi')\n")))
	res := run(t, Artifact{Manifest: added, Blobs: b, Referrers: [][]byte{referrer(b, added, bundle)}}, Config{Trust: s.trust})
	bi := res.Signature.Bundles
	if res.Allowed || res.Signature.Verified || len(bi) != 1 || !slices.Equal(bi[0].Files.Extra, []string{"hook.py"}) || !hasReason(res, "hook.py") {
		t.Errorf("added file: %v\n%s", res.Reasons, jsonOf(t, res.Signature))
	}

	changed := slices.Clone(files)
	changed[1] = file{"config.json", []byte(`{"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 8}`)}
	m := modelPack(t, b, modelPackConfigJSON("tiny", "v1", "Apache-2.0"), changed)
	res = run(t, Artifact{Manifest: m, Blobs: b, Referrers: [][]byte{referrer(b, m, bundle)}}, Config{Trust: s.trust})
	if res.Allowed || !slices.Equal(res.Signature.Bundles[0].Files.Modified, []string{"config.json"}) {
		t.Errorf("modified file: %v\n%s", res.Reasons, jsonOf(t, res.Signature))
	}
	// A bundle whose subject is another manifest is not this one's.
	res = run(t, Artifact{Manifest: m, Blobs: b, Referrers: [][]byte{referrer(b, added, bundle)}}, Config{Trust: s.trust})
	if res.Allowed || res.Signature.Bundles[0].Rule != "bundle-unreadable" {
		t.Errorf("foreign subject: %s", jsonOf(t, res.Signature))
	}
}

// A restrictive licence (non-commercial, or one with use restrictions)
// is outside the default allowlist, wherever it is declared; a namespace
// may allow it by name.
func TestRestrictiveLicenceFails(t *testing.T) {
	b := newBlobs()
	s := newSigner(t)
	for _, tc := range []struct {
		card, config string
		bad          string
	}{
		{card: "cc-by-nc-4.0", config: "Apache-2.0", bad: "cc-by-nc-4.0 (card README.md)"},
		{card: "apache-2.0", config: "llama3", bad: "llama3 (modelpack config)"},
		{card: "apache-2.0", config: "Apache-2.0 AND CC-BY-NC-4.0", bad: "Apache-2.0 AND CC-BY-NC-4.0"},
	} {
		files := tinyModel(tc.card)
		m := modelPack(t, b, modelPackConfigJSON("tiny", "v1", tc.config), files)
		a := Artifact{Manifest: m, Blobs: b, Referrers: [][]byte{referrer(b, m, s.sign(t, "", files...))}}
		res := run(t, a, Config{Trust: s.trust})
		if res.Allowed || !hasReason(res, "licence: "+tc.bad, "allowlist") || len(res.Reasons) != 1 {
			t.Errorf("%s/%s: %v\n%s", tc.card, tc.config, res.Reasons, jsonOf(t, res.Licenses))
		}
		if tc.config == "llama3" {
			allow := append(slices.Clone(DefaultLicenses), "llama3")
			if res := run(t, a, Config{Trust: s.trust, Licenses: allow}); !res.Allowed {
				t.Errorf("llama3 allowed by name: %v", res.Reasons)
			}
		}
	}
	// "MIT OR CC-BY-NC-4.0" lets the user choose MIT.
	files := tinyModel("mit")
	m := modelPack(t, b, modelPackConfigJSON("tiny", "v1", "MIT OR CC-BY-NC-4.0"), files)
	res := run(t, Artifact{Manifest: m, Blobs: b, Referrers: [][]byte{referrer(b, m, s.sign(t, "", files...))}}, Config{Trust: s.trust})
	if !res.Allowed {
		t.Errorf("disjunction: %v", res.Reasons)
	}
	// No licence anywhere: all rights reserved.
	files = []file{{"model.safetensors", safetensors}}
	m = modelPack(t, b, modelPackConfigJSON("tiny", "v1"), files)
	res = run(t, Artifact{Manifest: m, Blobs: b, Referrers: [][]byte{referrer(b, m, s.sign(t, "", files...))}}, Config{Trust: s.trust})
	if res.Allowed || !hasReason(res, "declares no licence") {
		t.Errorf("no licence: %v", res.Reasons)
	}
}

// A requirements file that travels with the model is audited: with the
// namespace's OSV database, a known-malicious pin is a deps finding and
// fails the default policy; without one, the result says what did not
// run.
func TestMaliciousDependencyReported(t *testing.T) {
	b := newBlobs()
	s := newSigner(t)
	files := append(tinyModel("apache-2.0"), file{"requirements.txt", []byte("litellm==1.82.7\n")})
	m := modelPack(t, b, modelPackConfigJSON("tiny", "v1", "Apache-2.0"), files)
	a := Artifact{Manifest: m, Blobs: b, Referrers: [][]byte{referrer(b, m, s.sign(t, "", files...))}}
	res := run(t, a, Config{Trust: s.trust, OSVDB: osvDB(t)})
	d := res.Deps
	if !d.VulnerabilityDB || d.Verdict != "malicious" || len(d.Manifests) != 1 || d.Manifests[0].Path != "requirements.txt" || d.Manifests[0].Layer == "" {
		t.Fatalf("deps: %s", jsonOf(t, d))
	}
	if d.Manifests[0].Findings[0].Rule != "MAL-2026-2144" {
		t.Errorf("finding %+v", d.Manifests[0].Findings)
	}
	if res.Allowed || !hasReason(res, "deps: requirements.txt requires a malicious package (MAL-2026-2144") {
		t.Errorf("%v", res.Reasons)
	}
	// Without a database the malicious pin cannot be known: the result
	// says so; the manifest is still listed.
	res = run(t, a, Config{Trust: s.trust})
	if res.Deps.VulnerabilityDB || !strings.Contains(res.Deps.Note, "no OSV database") || len(res.Deps.Manifests) != 1 {
		t.Errorf("no db: %s", jsonOf(t, res.Deps))
	}
	// A database that cannot be opened fails the gate (closed).
	res = run(t, a, Config{Trust: s.trust, OSVDB: "/nonexistent/osv.db"})
	if res.Allowed || !hasReason(res, "deps: the OSV database cannot be opened") {
		t.Errorf("missing db: %v", res.Reasons)
	}
}

// A KitOps ModelKit (Kitfile config, tar and tar+gzip layers at the root),
// signed by a bundle that travels inside it as model.sig.
func TestKitOpsModelKitWithBundleInside(t *testing.T) {
	b := newBlobs()
	s := newSigner(t)
	weights := []file{{"model/model.safetensors", safetensors}, {"model/config.json", configJSON}}
	docs := []file{{"README.md", readme("mit")}}
	bundle := s.sign(t, "model.sig", append(slices.Clone(weights), docs...)...)
	kitfile, _ := json.Marshal(map[string]any{
		"manifestVersion": "1.0",
		"package":         map[string]any{"name": "tiny-kit", "version": "2.0.0", "license": "MIT", "authors": []string{"kit"}},
		"model":           map[string]any{"name": "tiny", "path": "model", "framework": "pytorch", "license": "Apache-2.0"},
		"docs":            []map[string]any{{"path": "README.md"}, {"path": "model.sig"}},
	})
	m := manifestOf(b, "", MediaTypeKitConfig, kitfile, []lay{
		{mediaType: "application/vnd.kitops.modelkit.model.v1.tar", data: tarOf(t, PackingTar, weights...)},
		{mediaType: "application/vnd.kitops.modelkit.docs.v1.tar+gzip", data: tarOf(t, PackingTarGzip, append(docs, file{"model.sig", bundle})...)},
	}, nil)
	res := run(t, Artifact{Manifest: m, Blobs: b}, Config{Trust: s.trust})
	if !res.Allowed {
		t.Fatalf("%v\n%s", res.Reasons, jsonOf(t, res))
	}
	if res.Artifact.Kind != KindKitOps || res.Model.Name != "tiny-kit" || res.Model.Version != "2.0.0" || res.Model.Framework != "pytorch" ||
		!slices.Equal(res.Model.Licenses, []string{"MIT", "Apache-2.0"}) {
		t.Errorf("%s", jsonOf(t, res.Model))
	}
	if bi := res.Signature.Bundles; len(bi) != 1 || bi[0].Source != "file" || bi[0].Ref != "model.sig" || bi[0].Files.OK != 3 {
		t.Errorf("%s", jsonOf(t, res.Signature))
	}
}

// A plain artifact as oras pushes it: files named by
// org.opencontainers.image.title (whatever their media type), a
// directory as a tar+gzip layer marked for unpacking, an empty config,
// the licence in the manifest's annotations; and the older CNAI names.
func TestPlainOrasArtifactAndCNAI(t *testing.T) {
	b := newBlobs()
	s := newSigner(t)
	files := []file{{"model.safetensors", safetensors}, {"config.json", configJSON}, {"tokenizer/tokenizer.json", tokenizer}}
	title := func(n string) map[string]string { return map[string]string{annotationTitle: n} }
	m := manifestOf(b, "application/vnd.example.model", MediaTypeEmpty, []byte("{}"), []lay{
		{mediaType: "application/vnd.oci.image.layer.v1.tar", data: safetensors, ann: title("model.safetensors")},
		{mediaType: "application/json", data: configJSON, ann: title("config.json")},
		{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", data: tarOf(t, PackingTarGzip, files[2]),
			ann: map[string]string{annotationTitle: "tokenizer", annotationOrasUnpack: "true"}},
	}, map[string]string{"org.opencontainers.image.licenses": "Apache-2.0", "org.opencontainers.image.version": "3"})
	res := run(t, Artifact{Manifest: m, Blobs: b, Referrers: [][]byte{referrer(b, m, s.sign(t, "", files...))}}, Config{Trust: s.trust})
	if !res.Allowed || res.Artifact.Kind != KindOCI || res.Model.Version != "3" || res.Artifact.Layers[2].Packing != PackingTarGzip {
		t.Fatalf("%v\n%s", res.Reasons, jsonOf(t, res.Artifact))
	}

	// The CNAI names (org.cnai.model.filepath, vnd.cnai.model.*) and a
	// tar+zstd layer.
	cnai := func(role, packing, p string, data []byte) lay {
		return lay{mediaType: "application/vnd.cnai.model." + role + ".v1." + packing, data: data, ann: map[string]string{annotationFilepathLegacy: p}}
	}
	m = manifestOf(b, ArtifactTypeModelPackLegacy, "application/vnd.cnai.model.config.v1+json", modelPackConfigJSON("old", "1", "MIT"), []lay{
		cnai("weight", "raw", "model.safetensors", safetensors),
		cnai("weight.config", "raw", "config.json", configJSON),
		cnai("weight.config", "tar+zstd", "tokenizer", tarOf(t, PackingTarZstd, files[2])),
	}, nil)
	res = run(t, Artifact{Manifest: m, Blobs: b, Referrers: [][]byte{referrer(b, m, s.sign(t, "", files...))}}, Config{Trust: s.trust})
	if !res.Allowed || res.Artifact.Kind != KindModelPack || res.Model.Name != "old" {
		t.Fatalf("cnai: %v\n%s", res.Reasons, jsonOf(t, res.Artifact))
	}
}

// An index is allowed when every manifest it lists is; each is gated
// with its own referrers.
func TestIndexGatesEachManifest(t *testing.T) {
	b := newBlobs()
	s := newSigner(t)
	files := tinyModel("mit")
	m1 := modelPack(t, b, modelPackConfigJSON("tiny", "v1", "MIT"), files)
	bad := append(tinyModel("mit"), file{"x.pkl", maliciousPickle})
	m2 := modelPack(t, b, modelPackConfigJSON("tiny", "v1", "MIT"), bad)
	d1, d2 := b.put(m1), b.put(m2)
	index := func(ds ...string) []byte {
		var ms []map[string]any
		for _, d := range ds {
			ms = append(ms, map[string]any{"mediaType": MediaTypeImageManifest, "digest": d, "size": len(b.m[d])})
		}
		out, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": MediaTypeImageIndex, "manifests": ms})
		return out
	}
	refs := map[string][][]byte{d1: {referrer(b, m1, s.sign(t, "", files...))}, d2: {referrer(b, m2, s.sign(t, "", bad...))}}
	res := run(t, Artifact{Manifest: index(d1), MediaType: MediaTypeImageIndex, Blobs: b, ChildReferrers: refs}, Config{Trust: s.trust})
	if !res.Allowed || len(res.Manifests) != 1 || !res.Manifests[0].Allowed || res.Manifests[0].BOM == nil {
		t.Fatalf("%v", res.Reasons)
	}
	res = run(t, Artifact{Manifest: index(d1, d2), MediaType: MediaTypeImageIndex, Blobs: b, ChildReferrers: refs}, Config{Trust: s.trust})
	if res.Allowed || len(res.Manifests) != 2 || !hasReason(res, d2+": scan: x.pkl is malicious") {
		t.Fatalf("%v", res.Reasons)
	}
}

// Malformed or hostile artifacts fail with a reason, before anything is
// scanned, and leave nothing behind.
func TestMalformedArtifactsFail(t *testing.T) {
	b := newBlobs()
	cfg := modelPackConfigJSON("tiny", "v1", "MIT")
	ok := modelPackLayer("weight", "model.safetensors", safetensors)
	mp := func(layers ...lay) []byte {
		return manifestOf(b, ArtifactTypeModelPack, MediaTypeModelPackConfig, cfg, layers, nil)
	}
	tarLayer := func(path string, es ...testTarEntry) lay {
		return lay{mediaType: "application/vnd.cncf.model.weight.v1.tar", data: rawTar(t, es...), ann: map[string]string{annotationFilepath: path}}
	}
	gone := []byte("a blob the registry lost")
	missing := mp(modelPackLayer("weight", "gone.bin", gone))
	delete(b.m, digestOf(gone))
	for _, tc := range []struct {
		name, want string
		manifest   []byte
	}{
		{"empty", "manifest is empty", nil},
		{"not json", "not a JSON manifest", []byte("{not json")},
		{"trailing data", "data after its JSON", append(mp(ok), []byte("{}")...)},
		{"schema 1", "schemaVersion is 1", []byte(`{"schemaVersion":1}`)},
		{"docker", "but was pushed as", []byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}`)},
		{"no config", "no config", []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}`)},
		{"no layers", "no layers", mp()},
		{"bad digest", "not sha256", []byte(`{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:XYZ","size":1},"layers":[]}`)},
		{"traversal", "not a clean relative path", mp(modelPackLayer("weight", "../../etc/cron.d/x", safetensors))},
		{"absolute", "absolute", mp(modelPackLayer("weight", "/etc/passwd", safetensors))},
		{"unknown layer", "not a model layer this gate reads", mp(lay{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", data: []byte("x")})},
		{"raw without path", "needs a path", mp(lay{mediaType: "application/vnd.cncf.model.weight.v1.raw", data: []byte("x")})},
		{"duplicate", "written twice", mp(ok, modelPackLayer("weight", "model.safetensors", []byte("other")))},
		{"tar symlink", "symbolic link", mp(tarLayer("w", testTarEntry{name: "w", typ: '2', link: "/etc/passwd"}))},
		{"tar hardlink", "hard link", mp(tarLayer("w", testTarEntry{name: "w", typ: '1', link: "x"}))},
		{"tar traversal", "not a clean relative path", mp(tarLayer("", testTarEntry{name: "../x", data: []byte("x")}))},
		{"tar outside path", "outside the layer's declared path", mp(tarLayer("weights", testTarEntry{name: "config.json", data: []byte("{}")}))},
		{"tar duplicate", "written twice", mp(tarLayer("", testTarEntry{name: "a", data: []byte("1")}, testTarEntry{name: "a", data: []byte("2")}))},
		{"file and dir", "file in one place and a directory", mp(ok, tarLayer("", testTarEntry{name: "model.safetensors/x", data: []byte("1")}))},
		{"not a tar", "not gzip", mp(lay{mediaType: "application/vnd.cncf.model.weight.v1.tar+gzip", data: []byte("not gzip"), ann: map[string]string{annotationFilepath: "w"}})},
		{"missing blob", "cannot open", missing},
		{"after the archive", "data follows the end of the tar", mp(lay{mediaType: "application/vnd.cncf.model.weight.v1.tar", ann: map[string]string{annotationFilepath: "w"},
			data: append(rawTar(t, testTarEntry{name: "w", data: []byte("1")}), []byte("import os; os.system('x')")...)})},
		{"config not json", "not a ModelPack model config", manifestOf(b, ArtifactTypeModelPack, MediaTypeModelPackConfig, []byte("[1"), []lay{ok}, nil)},
		{"foreign layer", "foreign layer", []byte(`{"schemaVersion":2,"config":{"mediaType":"x","digest":"` + digestOf(nil) + `","size":0},"layers":[{"mediaType":"x","digest":"` + digestOf(nil) + `","size":0,"urls":["http://x"]}]}`)},
	} {
		res := run(t, Artifact{Manifest: tc.manifest, Blobs: b}, Config{Policy: "true", AutoApprove: true})
		if res.Allowed || res.AutoApproved || !hasReason(res, tc.want) {
			t.Errorf("%s: allowed=%v %v", tc.name, res.Allowed, res.Reasons)
		}
		if len(res.Scan.Files) != 0 {
			t.Errorf("%s: scanned a partial artifact", tc.name)
		}
	}
	// Zero padding after the archive, as tar writers add, is fine.
	padded := append(rawTar(t, testTarEntry{name: "w", data: []byte("1")}), make([]byte, 10240)...)
	if res := run(t, Artifact{Manifest: mp(lay{mediaType: "application/vnd.cncf.model.weight.v1.tar", data: padded, ann: map[string]string{annotationFilepath: "w"}}), Blobs: b}, Config{Policy: "true"}); !res.Allowed {
		t.Errorf("zero padding: %v", res.Reasons)
	}
	// A blob whose size is not the descriptor's.
	m := []byte(`{"schemaVersion":2,"config":{"mediaType":"x","digest":"` + b.put([]byte("{}")) + `","size":2},"layers":[{"mediaType":"application/vnd.cncf.model.weight.v1.raw","digest":"` + b.put([]byte("abc")) + `","size":4,"annotations":{"org.cncf.model.filepath":"w"}}]}`)
	if res := run(t, Artifact{Manifest: m, Blobs: b}, Config{Policy: "true"}); res.Allowed || !hasReason(res, "the manifest says 4") {
		t.Errorf("size mismatch: %v", res.Reasons)
	}
	// Limits.
	if res := run(t, Artifact{Manifest: mp(ok, ok, ok), Blobs: b}, Config{Policy: "true", Limits: Limits{Layers: 2}}); res.Allowed || !hasReason(res, "more than the limit of 2") {
		t.Errorf("layer limit: %v", res.Reasons)
	}
	if res := run(t, Artifact{Manifest: mp(ok), Blobs: b}, Config{Policy: "true", Limits: Limits{UnpackedBytes: 10}}); res.Allowed || !hasReason(res, "10-byte limit") {
		t.Errorf("size limit: %v", res.Reasons)
	}
}

type testTarEntry struct {
	name, link string
	typ        byte
	data       []byte
}

func rawTar(t testing.TB, es ...testTarEntry) []byte {
	var tes []testutil.TarEntry
	for _, e := range es {
		tes = append(tes, testutil.TarEntry{Name: e.name, Data: e.data, Type: e.typ, Linkname: e.link})
	}
	return testutil.Tar(t, tes...)
}

// The policy decides, is configurable per namespace and bounded; it can
// never allow what a gate could not check.
func TestPolicy(t *testing.T) {
	b := newBlobs()
	files := tinyModel("cc-by-nc-4.0")
	m := modelPack(t, b, modelPackConfigJSON("tiny", "v1"), files)
	a := Artifact{Manifest: m, Blobs: b}
	// A namespace that accepts unsigned, non-commercial models but still
	// refuses malicious files.
	lenient := `input.scan.files.filter(f, f.verdict == "malicious").map(f, "no: " + f.path)`
	if res := run(t, a, Config{Policy: lenient}); !res.Allowed || res.Policy.Source != "namespace" {
		t.Errorf("lenient: %v", res.Reasons)
	}
	if res := run(t, a, Config{}); res.Allowed || res.Policy.Source != "default" || len(res.Reasons) != 2 {
		t.Errorf("default: %v", res.Reasons)
	}
	if res := run(t, a, Config{Policy: "false"}); res.Allowed || !hasReason(res, "the policy does not allow") {
		t.Errorf("false: %v", res.Reasons)
	}
	for policy, want := range map[string]string{
		"input.nope.field": "policy: the policy failed",
		"1 + ":             "does not compile",
		"42":               "it must yield a list",
		`[1, 2]`:           "must yield a list of strings",
		"[0,1,2,3,4,5,6,7,8,9].map(a, [0,1,2,3,4,5,6,7,8,9].map(b, [0,1,2,3,4,5,6,7,8,9].map(c, [0,1,2,3,4,5,6,7,8,9].map(d, [0,1,2,3,4,5,6,7,8,9].map(e, string(a+b+c+d+e))))))": "cost limit",
	} {
		res := run(t, a, Config{Policy: policy, Limits: Limits{PolicyCost: 10_000}})
		if res.Allowed || !hasReason(res, want) {
			t.Errorf("%q: %v", policy, res.Reasons)
		}
		compileTime := strings.Contains(want, "compile") || strings.Contains(want, "it must yield")
		if err := CheckPolicy(policy, Limits{}); (err == nil) == compileTime {
			t.Errorf("CheckPolicy(%q) = %v", policy, err)
		}
	}
	if err := CheckPolicy("", Limits{}); err != nil {
		t.Errorf("the default policy: %v", err)
	}
}

// A cancelled run is an error (the job is retried), never a verdict.
func TestCancelledRunIsAnError(t *testing.T) {
	b := newBlobs()
	m := modelPack(t, b, modelPackConfigJSON("tiny", "v1", "MIT"), tinyModel("mit"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Run(ctx, Artifact{Repository: "a/b", Digest: digestOf(m), Manifest: m, Blobs: b}, Config{WorkDir: t.TempDir()})
	if err == nil || res != nil {
		t.Errorf("%v %v", res, err)
	}
}

func TestRootName(t *testing.T) {
	for in, want := range map[string]string{"team/bert": "bert", "a/b/Tiny Model": "Tiny-Model", "x/..": "model", "": "model"} {
		if got := rootName(in); got != want {
			t.Errorf("%q: %q", in, got)
		}
	}
}

// The certificate method: a bundle whose signing certificate chains to an
// anchor the namespace trusts verifies, here as a bundle layer of the
// manifest itself; trust material that does not parse fails the gate.
func TestCertificateSignerAndBundleLayer(t *testing.T) {
	b := newBlobs()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "model signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	cs, err := sign.WithCertificate(k, cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	anchor := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	s := signer{s: cs, trust: Trust{Certificates: []string{anchor}}}
	files := tinyModel("mit")
	bundle := s.sign(t, "", files...)
	m := modelPack(t, b, modelPackConfigJSON("tiny", "v1", "MIT"), files, lay{mediaType: MediaTypeSigstoreBundle, data: bundle})
	res := run(t, Artifact{Manifest: m, Blobs: b}, Config{Trust: s.trust})
	bi := res.Signature.Bundles
	if !res.Allowed || len(bi) != 1 || bi[0].Source != "layer" || bi[0].Method != "certificate" || bi[0].Signer == nil || !strings.Contains(bi[0].Signer.Identity, "model signer") {
		t.Fatalf("%v\n%s", res.Reasons, jsonOf(t, res.Signature))
	}
	bad := Trust{Certificates: []string{anchor}, PublicKeys: []string{"not a key"}}
	if res := run(t, Artifact{Manifest: m, Blobs: b}, Config{Trust: bad}); res.Allowed || !hasReason(res, "trust: public key 1") {
		t.Errorf("broken trust: %v", res.Reasons)
	}
}

// A ModelPack config's diffIds must be the digests of the uncompressed
// layers.
func TestModelPackDiffIDs(t *testing.T) {
	b := newBlobs()
	s := newSigner(t)
	files := tinyModel("mit")
	tok := testutil.Tar(t, testutil.TarEntry{Name: "tokenizer/special_tokens_map.json", Data: files[3].data}, testutil.TarEntry{Name: "tokenizer/tokenizer.json", Data: files[4].data})
	ids := []string{digestOf(files[0].data), digestOf(files[1].data), digestOf(files[2].data), digestOf(tok)}
	config := func(ids []string) []byte {
		c := map[string]any{"descriptor": map[string]any{"name": "tiny", "licenses": []string{"MIT"}}, "modelfs": map[string]any{"type": "layers", "diffIds": ids}}
		out, _ := json.Marshal(c)
		return out
	}
	layers := []lay{
		modelPackLayer("doc", "README.md", files[0].data), modelPackLayer("weight.config", "config.json", files[1].data),
		modelPackLayer("weight", "model.safetensors", files[2].data),
		{mediaType: "application/vnd.cncf.model.weight.config.v1.tar+gzip", data: compress(t, PackingTarGzip, tok), ann: map[string]string{annotationFilepath: "tokenizer"}},
	}
	bundle := s.sign(t, "", files...)
	m := manifestOf(b, ArtifactTypeModelPack, MediaTypeModelPackConfig, config(ids), layers, nil)
	if res := run(t, Artifact{Manifest: m, Blobs: b, Referrers: [][]byte{referrer(b, m, bundle)}}, Config{Trust: s.trust}); !res.Allowed {
		t.Fatalf("right diffIds: %v", res.Reasons)
	}
	wrong := slices.Clone(ids)
	wrong[3] = digestOf([]byte("another tar"))
	m = manifestOf(b, ArtifactTypeModelPack, MediaTypeModelPackConfig, config(wrong), layers, nil)
	if res := run(t, Artifact{Manifest: m, Blobs: b, Referrers: [][]byte{referrer(b, m, bundle)}}, Config{Trust: s.trust}); res.Allowed || !hasReason(res, "layer 3", "diffId") {
		t.Errorf("wrong diffId: %v", res.Reasons)
	}
	m = manifestOf(b, ArtifactTypeModelPack, MediaTypeModelPackConfig, config(ids[:2]), layers, nil)
	if res := run(t, Artifact{Manifest: m, Blobs: b}, Config{Trust: s.trust}); res.Allowed || !hasReason(res, "2 layer digests") {
		t.Errorf("short diffIds: %v", res.Reasons)
	}
}
