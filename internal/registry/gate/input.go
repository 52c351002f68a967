package gate

// Input is what the gates found: the policy's input, documented field by
// field in docs/registry.md. Lists are never null (empty instead), so a
// policy may call size() on any of them.
type Input struct {
	Artifact ArtifactInfo `json:"artifact"`
	// Model is the metadata the artifact declares (ModelPack config,
	// Kitfile, manifest annotations), for listings.
	Model Model `json:"model"`
	// Errors are the gates that could not run or the input they could
	// not read (a malformed manifest, an unreadable layer, a path that
	// escapes). Any error fails the gate, whatever the policy says.
	Errors    []string      `json:"errors"`
	Scan      ScanInfo      `json:"scan"`
	Signature SignatureInfo `json:"signature"`
	BOM       BOMInfo       `json:"bom"`
	Deps      DepsInfo      `json:"deps"`
	Licenses  LicenseInfo   `json:"licenses"`
}

// ArtifactInfo describes the manifest and its layers.
type ArtifactInfo struct {
	Repository      string      `json:"repository"`
	Digest          string      `json:"digest"`
	MediaType       string      `json:"media_type"`
	ArtifactType    string      `json:"artifact_type"`
	ConfigMediaType string      `json:"config_media_type"`
	Kind            string      `json:"kind"` // modelpack, kitops, oci, index
	Layers          []LayerInfo `json:"layers"`
	// Files and UnpackedBytes are what the layers unpacked to.
	Files         int   `json:"files"`
	UnpackedBytes int64 `json:"unpacked_bytes"`
}

// LayerInfo is one layer.
type LayerInfo struct {
	Digest    string `json:"digest"`
	MediaType string `json:"media_type"`
	Size      int64  `json:"size"`
	Role      string `json:"role"`
	Packing   string `json:"packing"` // raw, tar, tar+gzip, tar+zstd
	Path      string `json:"path"`    // declared path ("" when none)
}

// Model is the metadata the artifact declares.
type Model struct {
	Name         string   `json:"name"`
	Version      string   `json:"version"`
	Family       string   `json:"family"`
	Title        string   `json:"title"`
	Description  string   `json:"description"`
	Vendor       string   `json:"vendor"`
	Authors      []string `json:"authors"`
	CreatedAt    string   `json:"created_at"`
	SourceURL    string   `json:"source_url"`
	DocURL       string   `json:"doc_url"`
	Revision     string   `json:"revision"`
	Architecture string   `json:"architecture"`
	Format       string   `json:"format"`
	Framework    string   `json:"framework"`
	ParamSize    string   `json:"param_size"`
	Precision    string   `json:"precision"`
	Quantization string   `json:"quantization"`
	// Licenses are the licences the metadata declares, as written.
	Licenses []string `json:"licenses"`
}

// ScanInfo is the scan engine's verdict on every unpacked file.
type ScanInfo struct {
	// Verdict is the worst verdict of any file (clean when none).
	Verdict string `json:"verdict"`
	// Counts are the files (and recognised directories) per verdict.
	Counts map[string]int `json:"counts"`
	Files  []FileResult   `json:"files"`
}

// FileResult is the engine's artifact for one file (or a recognised
// directory, such as the model root as a Hugging Face repository).
type FileResult struct {
	Path   string `json:"path"`  // relative to the model root ("." the root)
	Layer  string `json:"layer"` // digest of the layer it came from ("" for a directory)
	Format string `json:"format"`
	Size   int64  `json:"size"`
	// Verdict is clean, unsupported, inconclusive, invalid, suspicious
	// or malicious.
	Verdict string `json:"verdict"`
	// Severity is the highest finding severity ("" without findings).
	Severity string `json:"severity"`
	// WorstRule is the rule of the first finding that gives the file its
	// verdict ("" when clean).
	WorstRule string    `json:"worst_rule"`
	Findings  []Finding `json:"findings"`
	// FindingsOmitted counts the findings left out of the list (the
	// verdict and severity count them).
	FindingsOmitted int `json:"findings_omitted"`
}

// Finding is one finding, as the CLI reports it.
type Finding struct {
	Rule     string `json:"rule"`
	Verdict  string `json:"verdict"`
	Severity string `json:"severity"`
	Location string `json:"location"`
	Message  string `json:"message"`
}

// SignatureInfo is the OMS signature verification.
type SignatureInfo struct {
	// Verified is true when at least one bundle was signed by a signer
	// the namespace trusts and every file of the artifact is exactly as
	// that bundle signs it: none modified, none missing, none extra.
	Verified bool         `json:"verified"`
	Bundles  []BundleInfo `json:"bundles"`
}

// BundleInfo is one OMS bundle and what its verification found.
type BundleInfo struct {
	// Source is "referrer" (a manifest whose subject is the artifact),
	// "layer" (a bundle layer of the manifest that names no file) or
	// "file" (a bundle inside the artifact, such as model.sig).
	Source string `json:"source"`
	// Ref is the referrer manifest's or the layer's digest, or the
	// file's path.
	Ref    string `json:"ref"`
	Method string `json:"method"` // key, certificate, sigstore ("" unreadable)
	// Signer is who signed, when the signature verified.
	Signer   *SignerInfo `json:"signer,omitempty"`
	Verified bool        `json:"verified"`
	// Rule and Error say why the bundle did not verify.
	Rule  string     `json:"rule"`
	Error string     `json:"error"`
	Files FilesCheck `json:"files"`
}

// SignerInfo names a verified signer.
type SignerInfo struct {
	Identity string `json:"identity"` // key hint, certificate subject, or Sigstore identity
	Issuer   string `json:"issuer"`
}

// FilesCheck compares the artifact's files with a verified bundle's
// manifest.
type FilesCheck struct {
	OK         int      `json:"ok"`
	Modified   []string `json:"modified"`
	Missing    []string `json:"missing"`
	Extra      []string `json:"extra"`
	Unreadable []string `json:"unreadable"`
	// Omitted counts names left out of the lists above.
	Omitted int `json:"omitted"`
}

// BOMInfo describes the AI-BOM generated for the artifact (Result.BOM).
type BOMInfo struct {
	Format      string `json:"format"` // CycloneDX
	SpecVersion string `json:"spec_version"`
	MediaType   string `json:"media_type"`
	Digest      string `json:"digest"` // sha256 of Result.BOM
	Size        int64  `json:"size"`
	Components  int    `json:"components"`
	// Warnings are what the BOM builder could not read.
	Warnings []string `json:"warnings"`
}

// DepsInfo is what aigis deps found in the lockfiles and requirements
// that travel with the model.
type DepsInfo struct {
	// VulnerabilityDB is false when no OSV database was configured:
	// only the checks that need none ran (Note says so).
	VulnerabilityDB bool   `json:"vulnerability_db"`
	Note            string `json:"note"`
	// Verdict is the worst verdict of any manifest (clean when none).
	Verdict   string       `json:"verdict"`
	Manifests []FileResult `json:"manifests"`
}

// LicenseInfo is the licence check.
type LicenseInfo struct {
	// Allowlist is the namespace's allowlist, as licence ids.
	Allowlist []string       `json:"allowlist"`
	Found     []FoundLicense `json:"found"`
}

// FoundLicense is one licence the artifact declares somewhere.
type FoundLicense struct {
	Declared string `json:"declared"` // as written
	// ID is the SPDX id, LicenseRef-*, or the expression as written
	// when it is an SPDX expression.
	ID string `json:"id"`
	// Source says where it was declared: "modelpack config", "kitfile
	// model", "manifest annotation", "card README.md", "header
	// model.gguf", ...
	Source  string `json:"source"`
	Allowed bool   `json:"allowed"`
	// Flags are the restrictions aigis knows of (non-commercial,
	// no-derivatives, use-restrictions, unknown, ...).
	Flags []string `json:"flags"`
}
