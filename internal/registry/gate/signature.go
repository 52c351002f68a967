package gate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/verify"
)

// bundle is one OMS bundle found for the artifact.
type bundle struct {
	source string // "referrer" or "file"
	ref    string // referrer digest or file path
	data   []byte
	path   string // on disk, for a bundle inside the tree
	err    string // why it could not be read
}

// verifiers are the namespace's trusted signers, by signing method.
type verifiers map[oms.Material][]verify.Verifier

// trusted builds the verifiers of a namespace. Trust material that does
// not parse is an error: a namespace whose trust configuration is broken
// verifies nothing.
func trusted(t Trust) (verifiers, []string) {
	vs := verifiers{}
	var errs []string
	for i, k := range t.PublicKeys {
		pub, err := oms.ParsePublicKey([]byte(k))
		if err == nil {
			var v verify.Verifier
			if v, err = verify.Key(pub); err == nil {
				vs[oms.MaterialKey] = append(vs[oms.MaterialKey], v)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("trust: public key %d: %v", i+1, err))
		}
	}
	if len(t.Certificates) > 0 {
		all := make([][]byte, 0, len(t.Certificates))
		for _, c := range t.Certificates {
			all = append(all, []byte(c))
		}
		certs, err := oms.ParseCertificates(bytes.Join(all, []byte("\n")))
		if err == nil {
			var v verify.Verifier
			if v, err = verify.CertificateChain(certs); err == nil {
				vs[oms.MaterialCertificateChain] = append(vs[oms.MaterialCertificateChain], v)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("trust: certificates: %v", err))
		}
	}
	for i, s := range t.Sigstore {
		tr, err := verify.LoadTrustedRoot([]byte(s.TrustedRoot))
		if err == nil {
			var v verify.Verifier
			if v, err = verify.Sigstore(tr, s.Identity, s.Issuer); err == nil {
				vs[oms.MaterialCertificate] = append(vs[oms.MaterialCertificate], v)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("trust: Sigstore signer %d: %v", i+1, err))
		}
	}
	return vs, errs
}

// referrerBundles reads the OMS bundles attached to the artifact as
// referrers. Referrers of other types (BOMs, approvals) are skipped.
func referrerBundles(ctx context.Context, a Artifact, lim Limits) ([]bundle, []string) {
	var out []bundle
	var errs []string
	refs := a.Referrers
	if len(refs) > lim.Referrers {
		errs = append(errs, fmt.Sprintf("signature: %d referrers, more than the limit of %d; only the first %d were read", len(refs), lim.Referrers, lim.Referrers))
		refs = refs[:lim.Referrers]
	}
	for _, raw := range refs {
		sum := sha256.Sum256(raw)
		ref := "sha256:" + hex.EncodeToString(sum[:])
		if int64(len(raw)) > lim.ManifestBytes {
			continue
		}
		var m ociManifest
		if json.Unmarshal(raw, &m) != nil || m.Config == nil {
			continue // not a manifest the gate reads; not a signature
		}
		at := m.ArtifactType
		if at == "" {
			at = m.Config.MediaType
		}
		if !isBundleType(at) {
			continue
		}
		b := bundle{source: "referrer", ref: ref}
		switch {
		case m.Subject == nil || m.Subject.Digest != a.Digest:
			b.err = "its subject is not this manifest"
		case len(m.Layers) != 1 || !isBundleType(m.Layers[0].MediaType):
			b.err = "a bundle referrer must have exactly one layer, the bundle"
		case m.Layers[0].Size > oms.MaxBundleSize:
			b.err = fmt.Sprintf("the bundle is %d bytes, more than the %d-byte limit", m.Layers[0].Size, oms.MaxBundleSize)
		case !ValidDigest(m.Layers[0].Digest):
			b.err = "its layer has no valid digest"
		default:
			data, err := readBlob(ctx, a.Blobs, m.Layers[0], oms.MaxBundleSize)
			if err != nil {
				b.err = err.Error()
			}
			b.data = data
		}
		out = append(out, b)
	}
	return out, errs
}

func isBundleType(mt string) bool {
	return strings.HasPrefix(mt, "application/vnd.dev.sigstore.bundle")
}

// treeBundles finds OMS bundles inside the artifact: files named *.sig
// that hold a Sigstore bundle.
func (t *tree) treeBundles() []bundle {
	var names []string
	for name := range t.files {
		if strings.HasSuffix(path.Base(name), ".sig") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var out []bundle
	for _, name := range names {
		data, err := fs.ReadFile(t.r.FS(), name)
		if err != nil || len(data) > oms.MaxBundleSize {
			continue
		}
		var probe struct {
			MediaType string `json:"mediaType"`
		}
		if json.Unmarshal(data, &probe) != nil || !isBundleType(probe.MediaType) {
			continue // a .sig file that is not an OMS bundle is a model file
		}
		out = append(out, bundle{source: "file", ref: name, data: data, path: filepath.Join(t.root, filepath.FromSlash(name))})
	}
	return out
}

// layerBundles reads bundle layers of the manifest that name no file.
func layerBundles(ctx context.Context, a Artifact, p *parsed) []bundle {
	var out []bundle
	for _, l := range p.Layers {
		if l.Role != "signature" || l.Path != "" {
			continue
		}
		b := bundle{source: "layer", ref: l.Desc.Digest}
		if l.Desc.Size > oms.MaxBundleSize {
			b.err = fmt.Sprintf("the bundle is %d bytes, more than the %d-byte limit", l.Desc.Size, oms.MaxBundleSize)
		} else if data, err := readBlob(ctx, a.Blobs, l.Desc, oms.MaxBundleSize); err != nil {
			b.err = err.Error()
		} else {
			b.data = data
		}
		out = append(out, b)
	}
	return out
}

// checkSignatures verifies every bundle found against the namespace's
// signers and the unpacked files. It returns errors only for checks that
// could not run.
func (t *tree) checkSignatures(ctx context.Context, bundles []bundle, vs verifiers, cfg Config) (SignatureInfo, []string) {
	info := SignatureInfo{Bundles: []BundleInfo{}}
	var errs []string
	if len(bundles) > cfg.Limits.Bundles {
		errs = append(errs, fmt.Sprintf("signature: %d bundles, more than the limit of %d; only the first %d were verified", len(bundles), cfg.Limits.Bundles, cfg.Limits.Bundles))
		bundles = bundles[:cfg.Limits.Bundles]
	}
	for _, b := range bundles {
		bi := BundleInfo{Source: b.source, Ref: b.ref, Files: emptyFiles()}
		if b.err != "" {
			bi.Rule, bi.Error = "bundle-unreadable", b.err
			info.Bundles = append(info.Bundles, bi)
			continue
		}
		ob, err := oms.ParseBundle(b.data)
		if err != nil {
			bi.Rule, bi.Error = "bundle-malformed", err.Error()
			info.Bundles = append(info.Bundles, bi)
			continue
		}
		bi.Method = string(ob.Material)
		v, why := choose(ob, vs[ob.Material])
		if v == nil {
			bi.Rule, bi.Error = "signer-untrusted", why
			info.Bundles = append(info.Bundles, bi)
			continue
		}
		res, err := verify.Model(ctx, t.root, b.data, v, verify.Options{Signature: b.path, Workers: cfg.Workers})
		if err != nil {
			if ctx.Err() == nil {
				errs = append(errs, fmt.Sprintf("signature: cannot verify %s %s: %s", b.source, b.ref, t.scrub(err.Error())))
			}
			bi.Rule, bi.Error = "verification-error", t.scrub(err.Error())
			info.Bundles = append(info.Bundles, bi)
			continue
		}
		if res.Signer != nil {
			bi.Signer = &SignerInfo{Identity: res.Signer.Identity, Issuer: res.Signer.Issuer}
		}
		if res.Failure != nil {
			bi.Rule, bi.Error = string(res.Failure.Rule), t.scrub(res.Failure.Msg)
		}
		bi.Files = filesCheck(res.Files)
		bi.Verified = res.OK() && res.Failure == nil
		if !bi.Verified && bi.Error == "" {
			bi.Rule, bi.Error = "files-differ", describeFiles(bi.Files)
		}
		info.Verified = info.Verified || bi.Verified
		info.Bundles = append(info.Bundles, bi)
	}
	return info, errs
}

// choose returns the first trusted verifier that accepts the bundle's
// signature, or why none does.
func choose(b *oms.Bundle, vs []verify.Verifier) (verify.Verifier, string) {
	if len(vs) == 0 {
		return nil, fmt.Sprintf("the bundle was signed with the %s method, and the namespace trusts no %s signer", b.Material, b.Material)
	}
	var whys []string
	for _, v := range vs {
		_, _, err := v.Verify(b)
		if err == nil {
			return v, ""
		}
		var f *verify.Failure
		msg := err.Error()
		if errors.As(err, &f) {
			msg = f.Msg
		}
		if !contains(whys, msg) {
			whys = append(whys, msg)
		}
	}
	if len(whys) > 4 {
		whys = append(whys[:4], fmt.Sprintf("and %d more", len(whys)-4))
	}
	return nil, "no trusted signer accepts the signature: " + strings.Join(whys, "; ")
}

func emptyFiles() FilesCheck {
	return FilesCheck{Modified: []string{}, Missing: []string{}, Extra: []string{}, Unreadable: []string{}}
}

func filesCheck(files []verify.File) FilesCheck {
	fc := emptyFiles()
	add := func(list *[]string, name string) {
		if len(*list) >= maxListed {
			fc.Omitted++
			return
		}
		*list = append(*list, name)
	}
	for _, f := range files {
		switch f.Status {
		case verify.StatusOK:
			fc.OK++
		case verify.StatusModified:
			add(&fc.Modified, f.Name)
		case verify.StatusMissing:
			add(&fc.Missing, f.Name)
		case verify.StatusExtra, verify.StatusUnsigned:
			add(&fc.Extra, f.Name)
		default:
			add(&fc.Unreadable, f.Name)
		}
	}
	return fc
}

func describeFiles(fc FilesCheck) string {
	var parts []string
	for _, p := range []struct {
		what  string
		names []string
	}{{"modified", fc.Modified}, {"missing", fc.Missing}, {"not signed (added after signing?)", fc.Extra}, {"unreadable or refused", fc.Unreadable}} {
		if len(p.names) > 0 {
			parts = append(parts, fmt.Sprintf("%s: %s", p.what, shortList(p.names, 5)))
		}
	}
	if len(parts) == 0 {
		return "the files do not match the signed manifest"
	}
	return "the files do not match the signed manifest: " + strings.Join(parts, "; ")
}

func shortList(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}
