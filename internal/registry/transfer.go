package registry

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/verify"
)

// SignatureFile is the OMS bundle's name in a model directory; push
// attaches it as a referrer and pull writes it back.
const SignatureFile = "model.sig"

// OMSBundleArtifactType is the artifact type of an attached OMS bundle
// (a Sigstore bundle).
const OMSBundleArtifactType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// skipAtRoot are left out of a pushed model, as OMS leaves them out.
var skipAtRoot = map[string]bool{".git": true, ".gitattributes": true, ".github": true, ".gitignore": true, SignatureFile: true}

// PushResult is what PushDir pushed.
type PushResult struct {
	Repository string      `json:"repository"`
	Tag        string      `json:"tag"`
	Digest     string      `json:"digest"`
	Files      []ModelFile `json:"files"`
	Size       int64       `json:"size"`
	Signature  string      `json:"signature,omitempty"` // the referrer holding model.sig
}

type localFile struct {
	rel, abs string
	size     int64
	digest   string
}

// walkModel lists the regular files of dir; links and special files are
// refused, never followed or skipped silently.
func walkModel(dir string) ([]localFile, error) {
	var out []localFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if !strings.Contains(rel, "/") && skipAtRoot[rel] {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch {
		case d.IsDir():
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			return fmt.Errorf("%s is a symbolic link: push refuses links", rel)
		case !d.Type().IsRegular():
			return fmt.Errorf("%s is not a regular file", rel)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, localFile{rel: rel, abs: p, size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no file to push", dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	return out, nil
}

func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func guessFormat(files []localFile) string {
	for _, f := range files {
		switch path.Ext(f.rel) {
		case ".safetensors":
			return "safetensors"
		case ".gguf":
			return "gguf"
		case ".onnx":
			return "onnx"
		case ".pt", ".pth", ".bin":
			return "pytorch"
		case ".h5", ".keras":
			return "keras"
		}
	}
	return ""
}

// PushDir pushes the files of dir to repo:tag as a ModelPack artifact: one
// raw layer per file, named by org.cncf.model.filepath. A model.sig at the
// root (an OMS bundle) is attached as a referrer of the pushed manifest.
func PushDir(ctx context.Context, c *Client, dir, repo, tag string) (*PushResult, error) {
	files, err := walkModel(dir)
	if err != nil {
		return nil, err
	}
	res := &PushResult{Repository: repo, Tag: tag}
	var layers []Descriptor
	var diff []string
	for i := range files {
		f := &files[i]
		if f.digest, err = hashFile(f.abs); err != nil {
			return nil, err
		}
		fh, err := os.Open(f.abs)
		if err != nil {
			return nil, err
		}
		err = c.PushBlob(ctx, repo, fh, f.size, f.digest)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("pushing %s: %w", f.rel, err)
		}
		mt := ModelPackLayerType(f.rel)
		layers = append(layers, Descriptor{MediaType: mt, Digest: f.digest, Size: f.size, Annotations: map[string]string{FilepathAnnotation: f.rel}})
		diff = append(diff, f.digest)
		res.Files = append(res.Files, ModelFile{Path: f.rel, MediaType: mt, Digest: f.digest, Size: f.size})
		res.Size += f.size
	}
	name := filepath.Base(filepath.Clean(dir))
	cfg, err := json.Marshal(ModelPackConfig{
		Descriptor: ModelPackDescriptor{Name: name, Version: tag, CreatedAt: time.Now().UTC().Format(time.RFC3339)},
		Config:     ModelPackModel{Format: guessFormat(files)},
		ModelFS:    ModelPackFS{Type: "layers", DiffIDs: diff},
	})
	if err != nil {
		return nil, err
	}
	cfgDigest := digestBytes(cfg)
	if err := c.PushBlob(ctx, repo, bytes.NewReader(cfg), int64(len(cfg)), cfgDigest); err != nil {
		return nil, fmt.Errorf("pushing the config: %w", err)
	}
	body, err := ModelPackManifest(Descriptor{MediaType: ModelPackConfigType, Digest: cfgDigest, Size: int64(len(cfg))}, layers,
		map[string]string{"org.opencontainers.image.title": name, "org.opencontainers.image.created": time.Now().UTC().Format(time.RFC3339)})
	if err != nil {
		return nil, err
	}
	// The signature goes first, as a referrer of the manifest about to be
	// pushed, so the gates see it on their first run.
	if bundle, err := os.ReadFile(filepath.Join(dir, SignatureFile)); err == nil {
		subject := Descriptor{MediaType: MediaTypeImageManifest, Digest: digestBytes(body), Size: int64(len(body))}
		if res.Signature, err = attach(ctx, c, repo, subject, OMSBundleArtifactType, OMSBundleArtifactType, bundle, SignatureFile); err != nil {
			return nil, fmt.Errorf("attaching %s: %w", SignatureFile, err)
		}
	}
	if res.Digest, err = c.PushManifest(ctx, repo, tag, MediaTypeImageManifest, body); err != nil {
		return nil, err
	}
	return res, nil
}

func digestBytes(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// attach pushes content as a one-layer referrer of subject.
func attach(ctx context.Context, c *Client, repo string, subject Descriptor, artifactType, layerType string, content []byte, title string) (string, error) {
	empty := []byte("{}")
	for _, b := range [][]byte{empty, content} {
		if err := c.PushBlob(ctx, repo, bytes.NewReader(b), int64(len(b)), digestBytes(b)); err != nil {
			return "", err
		}
	}
	body, err := json.Marshal(ManifestDoc{
		SchemaVersion: 2, MediaType: MediaTypeImageManifest, ArtifactType: artifactType,
		Config:  &Descriptor{MediaType: MediaTypeEmpty, Digest: digestBytes(empty), Size: 2, Data: empty},
		Layers:  []Descriptor{{MediaType: layerType, Digest: digestBytes(content), Size: int64(len(content)), Annotations: map[string]string{ORASTitleAnnotation: title}}},
		Subject: &subject,
	})
	if err != nil {
		return "", err
	}
	return c.PushManifest(ctx, repo, digestBytes(body), MediaTypeImageManifest, body)
}

// PullOptions configure PullDir.
type PullOptions struct {
	// Key verifies the OMS signature attached to the model; without it a
	// signature is fetched but reported unverified.
	Key *ecdsa.PublicKey
	// RequireSignature fails a pull with no attached signature.
	RequireSignature bool
	// ApproverKey verifies the version's approval, offline.
	ApproverKey *ecdsa.PublicKey
}

// PullResult is what PullDir wrote and checked.
type PullResult struct {
	Repository string      `json:"repository"`
	Digest     string      `json:"digest"`
	Dir        string      `json:"dir"`
	Files      []ModelFile `json:"files"`
	Size       int64       `json:"size"`
	Signature  string      `json:"signature"` // verified, unverified (no key), absent
	Signer     string      `json:"signer,omitempty"`
	Approval   string      `json:"approval,omitempty"` // verified by <approver> until <time>, or absent
}

// safeRel checks a path from an annotation: relative, clean, no "..".
func safeRel(p string) (string, error) {
	if p == "" || strings.Contains(p, "\\") || strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "." ||
		p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "\x00") {
		return "", fmt.Errorf("unsafe file path %q in the manifest", p)
	}
	return p, nil
}

// PullDir pulls repo:ref into dir, which must not exist: every blob is
// re-hashed as it is written, the manifest's digest is checked, the OMS
// signature (if attached) is verified, and only then is the whole
// directory renamed into place. A pull that fails leaves nothing at dir.
func PullDir(ctx context.Context, c *Client, repo, ref, dir string, o PullOptions) (*PullResult, error) {
	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("%s exists: pull writes a new directory", dir)
	}
	body, _, digest, err := c.Manifest(ctx, repo, ref)
	if err != nil {
		return nil, err
	}
	want := digest
	if strings.Contains(ref, ":") {
		want = ref
	}
	alg, _, _ := strings.Cut(want, ":")
	h := newHash(alg)
	h.Write(body)
	if got := digestOf(h, alg); got != want || (digest != "" && digest != want) {
		return nil, fmt.Errorf("the manifest hashes to %s, the registry says %s", got, want)
	}
	doc, err := ParseManifest(body, "")
	if err != nil {
		return nil, err
	}
	if isIndex(doc.MediaType) {
		return nil, errors.New("pull writes a model artifact, not an index")
	}
	parent := filepath.Dir(filepath.Clean(dir))
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".pull-*")
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	res := &PullResult{Repository: repo, Digest: want, Dir: dir, Signature: "absent"}
	seen := map[string]bool{}
	for i, l := range doc.Layers {
		p := l.Annotations[FilepathAnnotation]
		if p == "" {
			p = l.Annotations[ORASTitleAnnotation]
		}
		if p == "" {
			p = fmt.Sprintf("layer-%d", i)
		}
		if p, err = safeRel(p); err != nil {
			return nil, err
		}
		if seen[p] || p == SignatureFile {
			return nil, fmt.Errorf("the manifest names %s twice", p)
		}
		seen[p] = true
		if err := fetchTo(ctx, c, repo, l, filepath.Join(tmp, filepath.FromSlash(p))); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		res.Files = append(res.Files, ModelFile{Path: p, MediaType: l.MediaType, Digest: l.Digest, Size: l.Size})
		res.Size += l.Size
	}
	if err := verifyAttached(ctx, c, repo, want, tmp, o, res); err != nil {
		return nil, err
	}
	if err := syncDir(tmp); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	done = true
	syncDir(parent)
	return res, nil
}

func syncDir(d string) error {
	f, err := os.Open(d)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// fetchTo writes one blob to p, checking its size and digest.
func fetchTo(ctx context.Context, c *Client, repo string, l Descriptor, p string) error {
	alg, _, e := parseDigest(l.Digest)
	if e != nil {
		return errors.New(e.message)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	rc, _, err := c.Blob(ctx, repo, l.Digest)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	h := newHash(alg)
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(rc, l.Size+1))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n != l.Size {
		return fmt.Errorf("%d bytes received, the manifest says %d", n, l.Size)
	}
	if got := digestOf(h, alg); got != l.Digest {
		return fmt.Errorf("received bytes hash to %s, not %s", got, l.Digest)
	}
	return nil
}

// verifyAttached fetches the OMS bundle and the approval referrers and
// verifies what it has keys for.
func verifyAttached(ctx context.Context, c *Client, repo, digest, dir string, o PullOptions, res *PullResult) error {
	refs, err := c.Referrers(ctx, repo, digest, "")
	if err != nil {
		return err
	}
	var bundle []byte
	var approvals [][]byte
	for _, r := range refs {
		if r.ArtifactType != OMSBundleArtifactType && r.ArtifactType != ApprovalArtifactType {
			continue
		}
		content, err := fetchReferrer(ctx, c, repo, r)
		if err != nil {
			return fmt.Errorf("referrer %s: %w", r.Digest, err)
		}
		if r.ArtifactType == OMSBundleArtifactType && bundle == nil {
			bundle = content
		} else if r.ArtifactType == ApprovalArtifactType {
			approvals = append(approvals, content)
		}
	}
	switch {
	case bundle == nil && o.RequireSignature:
		return errors.New("no OMS signature is attached to the model")
	case bundle == nil:
	case o.Key == nil:
		res.Signature = "unverified (no --key)"
		if err := os.WriteFile(filepath.Join(dir, SignatureFile), bundle, 0o644); err != nil {
			return err
		}
	default:
		sig := filepath.Join(dir, SignatureFile)
		if err := os.WriteFile(sig, bundle, 0o644); err != nil {
			return err
		}
		v, err := verify.Key(o.Key)
		if err != nil {
			return err
		}
		vr, err := verify.Model(ctx, dir, bundle, v, verify.Options{Signature: sig})
		if err != nil {
			return err
		}
		if !vr.OK() {
			msg := "the model does not match its OMS signature"
			if vr.Failure != nil {
				msg += ": " + vr.Failure.Msg
			}
			for _, f := range vr.Files {
				if f.Status != verify.StatusOK && f.Status != verify.StatusUnsigned {
					msg += fmt.Sprintf("; %s %s", f.Name, f.Status)
				}
			}
			return errors.New(msg)
		}
		res.Signature = "verified"
		if hint, err := oms.KeyHint(o.Key); err == nil {
			res.Signer = "key " + hint[:16]
		}
	}
	if o.ApproverKey != nil {
		res.Approval = "none verifies with the approver key"
		for _, a := range approvals {
			st, err := VerifyApproval(a, o.ApproverKey)
			if err != nil || st.Digest() != digest || st.Subject[0].Name != repo || !time.Now().Before(st.Predicate.Expires) {
				continue
			}
			res.Approval = fmt.Sprintf("verified: approved by %s until %s", st.Predicate.Approver, st.Predicate.Expires.Format(time.RFC3339))
			break
		}
		if !strings.HasPrefix(res.Approval, "verified") {
			return errors.New("no approval of this version verifies with the approver key")
		}
	}
	return nil
}

// maxReferrer bounds an attached document.
const maxReferrer = 4 << 20

func fetchReferrer(ctx context.Context, c *Client, repo string, r Descriptor) ([]byte, error) {
	body, _, _, err := c.Manifest(ctx, repo, r.Digest)
	if err != nil {
		return nil, err
	}
	if digestBytes(body) != r.Digest {
		return nil, errors.New("the referrer's manifest does not hash to its digest")
	}
	var doc ManifestDoc
	if err := json.Unmarshal(body, &doc); err != nil || len(doc.Layers) != 1 || doc.Layers[0].Size > maxReferrer {
		return nil, errors.New("not a one-layer attachment")
	}
	l := doc.Layers[0]
	rc, _, err := c.Blob(ctx, repo, l.Digest)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, l.Size+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != l.Size || digestBytes(b) != l.Digest {
		return nil, errors.New("the attachment does not match its digest")
	}
	return b, nil
}
