package gate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aigis-dev/aigis/internal/bom"
	"github.com/aigis-dev/aigis/internal/bom/cyclonedx"
	"github.com/aigis-dev/aigis/internal/deps"
	"github.com/aigis-dev/aigis/internal/osvdb"
	"github.com/aigis-dev/aigis/report"
	"github.com/aigis-dev/aigis/scan"
)

// BOMMediaType is the media type of Result.BOM (and the artifactType of
// the referrer the server pushes it as).
const BOMMediaType = "application/vnd.cyclonedx+json"

func newResult(a Artifact, cfg Config) *Result {
	return &Result{
		Version: Version,
		Input: Input{
			Artifact:  ArtifactInfo{Repository: a.Repository, Digest: a.Digest, MediaType: a.MediaType, Layers: []LayerInfo{}},
			Model:     Model{Authors: []string{}, Licenses: []string{}},
			Errors:    []string{},
			Scan:      ScanInfo{Verdict: report.Clean.String(), Counts: map[string]int{}, Files: []FileResult{}},
			Signature: SignatureInfo{Bundles: []BundleInfo{}},
			BOM:       BOMInfo{Warnings: []string{}},
			Deps:      DepsInfo{Verdict: report.Clean.String(), Manifests: []FileResult{}},
			Licenses:  LicenseInfo{Allowlist: allowlist(cfg.Licenses), Found: []FoundLicense{}},
		},
		Policy: policyInfo(cfg),
	}
}

func (r *Result) fail(format string, a ...any) {
	r.Errors = append(r.Errors, truncate(fmt.Sprintf(format, a...), maxMessageBytes))
}

// runGates gates one manifest (or, at depth 0, an index).
func runGates(ctx context.Context, a Artifact, cfg Config, depth int) *Result {
	res := newResult(a, cfg)
	lim := cfg.Limits
	p, err := parseManifest(a.Manifest, a.MediaType, lim)
	if err != nil {
		res.fail("manifest: %v", err)
		return decide(ctx, res, cfg, false)
	}
	ai := &res.Artifact
	ai.Kind, ai.ArtifactType = p.Kind, p.Manifest.ArtifactType
	if ai.MediaType == "" {
		ai.MediaType = p.Manifest.MediaType
	}
	if p.Manifest.Config != nil {
		ai.ConfigMediaType = p.Manifest.Config.MediaType
	}
	for _, l := range p.Layers {
		ai.Layers = append(ai.Layers, LayerInfo{Digest: l.Desc.Digest, MediaType: l.Desc.MediaType, Size: l.Desc.Size, Role: l.Role, Packing: l.Packing, Path: l.Path})
	}
	if a.Blobs == nil {
		res.fail("the gate was given no blob source")
		return decide(ctx, res, cfg, false)
	}
	if p.Kind == KindIndex {
		return runIndex(ctx, a, cfg, p, res, depth)
	}
	var lic []declaredLicense
	diffIDs, err := readConfig(ctx, a.Blobs, p, lim, &res.Model, &lic)
	for _, l := range lic {
		res.Model.Licenses = appendNew(res.Model.Licenses, l.value)
	}
	if err != nil {
		res.fail("config: %v", err)
		return decide(ctx, res, cfg, false)
	}
	t, err := newTree(cfg.WorkDir, rootName(a.Repository), lim)
	if err != nil {
		res.fail("%v", err)
		return decide(ctx, res, cfg, false)
	}
	defer t.remove()
	for i, l := range p.Layers {
		var d string
		if diffIDs != nil {
			d = diffIDs[i]
		}
		if err := t.unpack(ctx, a.Blobs, l, d); err != nil {
			if ctx.Err() != nil {
				return res
			}
			res.fail("layer %d (%s): %s", i, l.Desc.Digest, t.scrub(err.Error()))
			return decide(ctx, res, cfg, false)
		}
	}
	ai.Files, ai.UnpackedBytes = len(t.files), t.bytes
	if len(t.files) == 0 {
		res.fail("the layers hold no file: there is no model to check")
		return decide(ctx, res, cfg, false)
	}

	arts := t.scan(ctx, cfg, res)
	vs, terrs := trusted(cfg.Trust)
	res.Errors = append(res.Errors, terrs...)
	bundles, berrs := referrerBundles(ctx, a, lim)
	res.Errors = append(res.Errors, berrs...)
	bundles = append(bundles, layerBundles(ctx, a, p)...)
	bundles = append(bundles, t.treeBundles()...)
	var serrs []string
	res.Signature, serrs = t.checkSignatures(ctx, bundles, vs, cfg)
	res.Errors = append(res.Errors, serrs...)
	doc := t.bom(ctx, a, arts, cfg, res)
	t.deps(ctx, cfg, res)
	bomLicenses(doc, &lic)
	for _, l := range lic {
		res.Licenses.Found = append(res.Licenses.Found, judgeLicense(l, res.Licenses.Allowlist))
	}
	return decide(ctx, res, cfg, true)
}

// scan runs the engine over the unpacked tree, as aigis scan does, and
// returns its artifacts (paths as the walk gave them, messages scrubbed of
// the work directory) for the BOM.
func (t *tree) scan(ctx context.Context, cfg Config, res *Result) []report.Artifact {
	var arts []report.Artifact
	eng := scan.New(scan.Options{Workers: cfg.Workers})
	err := eng.Stream(ctx, []string{t.root}, func(a *report.Artifact) error {
		c := *a
		c.Findings = make([]report.Finding, len(a.Findings))
		for i, f := range a.Findings {
			f.Message, f.Location = t.scrub(f.Message), t.scrub(f.Location)
			c.Findings[i] = f
		}
		arts = append(arts, c)
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			res.fail("scan: %s", t.scrub(err.Error()))
		}
		return arts
	}
	worst := report.Clean
	for i := range arts {
		a := &arts[i]
		fr := t.fileResult(a, cfg.Limits.Findings)
		res.Scan.Files = append(res.Scan.Files, fr)
		res.Scan.Counts[a.Verdict.String()]++
		worst = report.Worse(worst, a.Verdict)
	}
	res.Scan.Verdict = worst.String()
	if got, want := len(arts), len(t.files); got < want {
		res.fail("scan: the engine reported %d artifacts for %d files", got, want)
	}
	return arts
}

// fileResult is the result's view of one artifact.
func (t *tree) fileResult(a *report.Artifact, maxFindings int) FileResult {
	rel := t.rel(a.Path)
	fr := FileResult{Path: rel, Layer: t.files[rel], Format: a.Format, Size: a.Size, Verdict: a.Verdict.String(), Findings: []Finding{}}
	if s, ok := a.MaxSeverity(); ok {
		fr.Severity = s.String()
	}
	for _, f := range a.Findings {
		if fr.WorstRule == "" && f.Verdict == a.Verdict && a.Verdict != report.Clean {
			fr.WorstRule = f.Rule
		}
		if len(fr.Findings) >= maxFindings {
			fr.FindingsOmitted++
			continue
		}
		fr.Findings = append(fr.Findings, Finding{Rule: f.Rule, Verdict: f.Verdict.String(), Severity: f.Severity.String(),
			Location: truncate(f.Location, maxPathBytes), Message: truncate(f.Message, maxMessageBytes)})
	}
	return fr
}

// bom builds the CycloneDX AI-BOM of the tree from the scan's artifacts.
func (t *tree) bom(ctx context.Context, a Artifact, arts []report.Artifact, cfg Config, res *Result) *bom.Document {
	if arts == nil {
		arts = []report.Artifact{}
	}
	doc, err := bom.BuildAll(ctx, []string{t.root}, bom.Options{Workers: cfg.Workers, Scanned: arts})
	if err != nil {
		if ctx.Err() == nil {
			res.fail("bom: %s", t.scrub(err.Error()))
		}
		return nil
	}
	s := doc.Subject
	if s.Version == "" {
		s.Version = res.Model.Version
	}
	if s.PURL == "" && ValidDigest(a.Digest) {
		s.PURL = "pkg:oci/" + strings.ToLower(rootName(a.Repository)) + "@" + strings.Replace(a.Digest, ":", "%3A", 1)
	}
	s.Properties = append(s.Properties, bom.Property{Name: "aigis:oci:repository", Value: a.Repository}, bom.Property{Name: "aigis:oci:digest", Value: a.Digest})
	for i, w := range doc.Warnings {
		doc.Warnings[i] = t.scrub(w)
	}
	ts, pinned := a.PushedAt.UTC().Truncate(time.Second), !a.PushedAt.IsZero()
	if !pinned {
		ts = time.Now().UTC().Truncate(time.Second)
	}
	var buf bytes.Buffer
	if err := cyclonedx.Encode(&buf, doc, cyclonedx.Options{SpecVersion: "1.6", Timestamp: ts, Serial: bomSerial(a.Digest), ToolVersion: Version, Reproducible: pinned}); err != nil {
		res.fail("bom: %v", err)
		return doc
	}
	sum := sha256.Sum256(buf.Bytes())
	res.BOM = buf.Bytes()
	res.Input.BOM = BOMInfo{Format: "CycloneDX", SpecVersion: "1.6", MediaType: BOMMediaType, Digest: "sha256:" + hex.EncodeToString(sum[:]),
		Size: int64(buf.Len()), Components: len(doc.All()), Warnings: boundStrings(doc.Warnings, maxListed)}
	return doc
}

// bomSerial is the BOM's serial number: a UUID (version 8) derived from
// the manifest digest, so a re-run names the same BOM.
func bomSerial(digest string) string {
	h := sha256.Sum256([]byte("aigis registry gate BOM\x00" + digest))
	b := h[:16]
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func boundStrings(s []string, n int) []string {
	out := []string{}
	for i, x := range s {
		if i == n {
			out = append(out, fmt.Sprintf("and %d more", len(s)-n))
			break
		}
		out = append(out, truncate(x, maxMessageBytes))
	}
	return out
}

// deps audits the lockfiles and requirements in the tree.
func (t *tree) deps(ctx context.Context, cfg Config, res *Result) {
	var opt deps.Options
	if cfg.OSVDB != "" {
		db, err := osvdb.Open(cfg.OSVDB)
		if err != nil {
			res.fail("deps: the OSV database cannot be opened: %v", err)
			return
		}
		defer db.Close()
		opt.DB = db
		res.Deps.VulnerabilityDB = true
	} else {
		res.Deps.Note = "no OSV database is configured for the namespace: known vulnerabilities and malicious packages were not matched; the typosquat, index, pinning and model checks ran"
	}
	rep, err := deps.Scan(ctx, []string{t.root}, opt)
	if err != nil {
		if ctx.Err() == nil {
			res.fail("deps: %s", t.scrub(err.Error()))
		}
		return
	}
	worst := report.Clean
	for i := range rep.Artifacts {
		a := &rep.Artifacts[i]
		for j := range a.Findings {
			a.Findings[j].Message, a.Findings[j].Location = t.scrub(a.Findings[j].Message), t.scrub(a.Findings[j].Location)
		}
		res.Deps.Manifests = append(res.Deps.Manifests, t.fileResult(a, cfg.Limits.Findings))
		worst = report.Worse(worst, a.Verdict)
	}
	sort.SliceStable(res.Deps.Manifests, func(i, j int) bool { return res.Deps.Manifests[i].Path < res.Deps.Manifests[j].Path })
	res.Deps.Verdict = worst.String()
}

// runIndex gates every manifest an index lists; the index is allowed when
// each of them is.
func runIndex(ctx context.Context, a Artifact, cfg Config, p *parsed, res *Result, depth int) *Result {
	if depth > 0 {
		res.fail("manifest: an index inside an index is not gated")
		return decide(ctx, res, cfg, false)
	}
	for _, d := range p.Manifest.Manifests {
		raw, err := readBlob(ctx, a.Blobs, d, cfg.Limits.ManifestBytes)
		if err != nil {
			if ctx.Err() != nil {
				return res
			}
			res.fail("manifest %s of the index: %v", d.Digest, err)
			continue
		}
		child := Artifact{Repository: a.Repository, Digest: d.Digest, MediaType: d.MediaType, Manifest: raw,
			Referrers: a.ChildReferrers[d.Digest], Blobs: a.Blobs, PushedAt: a.PushedAt}
		cr := runGates(ctx, child, cfg, depth+1)
		if ctx.Err() != nil {
			return res
		}
		res.Manifests = append(res.Manifests, cr)
	}
	res.Allowed = len(res.Errors) == 0 && len(res.Manifests) > 0
	res.Reasons = append([]string{}, res.Errors...)
	for _, cr := range res.Manifests {
		if !cr.Allowed {
			res.Allowed = false
			for _, r := range cr.Reasons {
				res.Reasons = append(res.Reasons, cr.Artifact.Digest+": "+r)
			}
		}
	}
	res.AutoApproved = res.Allowed && cfg.AutoApprove
	if res.Allowed {
		res.Reasons = nil
	}
	return res
}

// decide applies the policy. complete says the gates ran to the end: a
// result whose input is partial (the manifest did not parse, a layer did
// not unpack) is refused on its errors alone.
func decide(ctx context.Context, res *Result, cfg Config, complete bool) *Result {
	var reasons []string
	if complete {
		pol, err := compilePolicy(cfg.Policy, cfg.Limits)
		if err == nil {
			var in map[string]any
			if in, err = policyInput(&res.Input); err == nil {
				reasons, err = pol.eval(ctx, in)
			}
		}
		if err != nil && ctx.Err() == nil {
			res.fail("policy: %v", err)
		}
	}
	res.Allowed = len(res.Errors) == 0 && len(reasons) == 0
	if !res.Allowed {
		res.Reasons = append(append([]string{}, res.Errors...), reasons...)
		if len(res.Reasons) == 0 {
			res.Reasons = []string{"the gate did not complete"}
		}
	}
	res.AutoApproved = res.Allowed && cfg.AutoApprove
	return res
}
