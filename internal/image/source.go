package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Kinds of target.
const (
	KindLayout   = "oci-layout"
	KindArchive  = "docker-archive"
	KindRegistry = "registry"
	KindRootFS   = "rootfs"
)

// layerSrc is one layer as the image declares it.
type layerSrc struct {
	index     int
	digest    string // compressed digest the manifest declares ("" when none)
	diffID    string // uncompressed digest the configuration declares
	size      int64  // declared compressed size, -1 unknown
	mediaType string
	// open returns the layer's bytes as stored (compressed or not).
	open func(ctx context.Context) (io.ReadCloser, error)
	// ra, when set, is random access to the same bytes (a local file).
	ra     io.ReaderAt
	raSize int64
	// missing says why the blob cannot be read.
	missing error
}

// source is an opened target: its manifest, configuration and layers.
type source struct {
	kind      string
	ref       string
	digest    string // manifest digest
	mediaType string
	manifest  []byte
	config    []byte
	layers    []*layerSrc
	// problems are what loading found wrong that did not stop it.
	problems []string
	closers  []io.Closer
}

func (s *source) Close() {
	for _, c := range s.closers {
		c.Close()
	}
}

var digestRE = regexp.MustCompile(`^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$`)

// errInvalid marks a target whose manifest or layout cannot be used at
// all: the image artifact is invalid, and nothing more is read.
type errInvalid struct{ msg string }

func (e *errInvalid) Error() string { return e.msg }

func invalidf(format string, args ...any) error {
	return &errInvalid{fmt.Sprintf(format, args...)}
}

// descriptor, manifest and index are the parts of the OCI image spec
// aigis reads (docker's v2 schema 2 has the same shape).
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	URLs        []string          `json:"urls,omitempty"`
	Platform    *v1.Platform      `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type manifestDoc struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
	Manifests     []descriptor `json:"manifests"`
}

func (m *manifestDoc) isIndex() bool {
	return m.Manifests != nil || strings.Contains(m.MediaType, "index") || strings.Contains(m.MediaType, "manifest.list")
}

// parsePlatform reads "os/arch[/variant]"; "" is linux and this machine's
// architecture.
func parsePlatform(s string) (*v1.Platform, error) {
	if s == "" {
		return &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return nil, fmt.Errorf("--platform %q: %w", s, err)
	}
	return p, nil
}

func platformMatches(want, have *v1.Platform) bool {
	if have == nil {
		return false
	}
	return want.OS == have.OS && want.Architecture == have.Architecture && (want.Variant == "" || want.Variant == have.Variant)
}

// pickManifest chooses the image of an index: the one for the platform,
// else the only image in it.
func pickManifest(ms []descriptor, want *v1.Platform) (descriptor, error) {
	var images []descriptor
	for _, m := range ms {
		if m.Platform != nil && m.Platform.OS == "unknown" {
			continue // attestations
		}
		images = append(images, m)
	}
	for _, m := range images {
		if platformMatches(want, m.Platform) {
			return m, nil
		}
	}
	if len(images) == 1 {
		return images[0], nil
	}
	if len(images) == 0 {
		return descriptor{}, invalidf("the index lists no image")
	}
	var ps []string
	for _, m := range images {
		if m.Platform != nil {
			ps = append(ps, m.Platform.String())
		}
	}
	return descriptor{}, invalidf("the index has no image for %s (it has %s); choose one with --platform", want, strings.Join(ps, ", "))
}

func checkDescriptor(what string, d descriptor, max int64) error {
	if !digestRE.MatchString(d.Digest) {
		return invalidf("%s digest %q is not a sha256 or sha512 digest", what, d.Digest)
	}
	if d.Size < 0 || (max > 0 && d.Size > max) {
		return invalidf("%s declares %d bytes (at most %d are read)", what, d.Size, max)
	}
	return nil
}

func decodeJSON(what string, b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return invalidf("%s is not valid JSON: %v", what, err)
	}
	return nil
}

// readAllMax reads r whole, failing beyond max bytes.
func readAllMax(r io.Reader, max int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, invalidf("%s is larger than %d bytes", what, max)
	}
	return b, nil
}

// --- OCI image layout ---

func openLayout(dir string, want *v1.Platform, lim Limits) (*source, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	s := &source{kind: KindLayout, ref: dir, closers: []io.Closer{root}}
	fail := func(err error) (*source, error) { s.Close(); return nil, err }
	if b, err := readRootFile(root, "oci-layout", 64<<10); err != nil {
		return fail(invalidf("%s is not an OCI image layout: %v", dir, err))
	} else {
		var v struct {
			Version string `json:"imageLayoutVersion"`
		}
		if err := decodeJSON("oci-layout", b, &v); err != nil {
			return fail(err)
		}
		if v.Version == "" {
			s.problems = append(s.problems, "oci-layout names no imageLayoutVersion")
		}
	}
	b, err := readRootFile(root, "index.json", lim.MaxManifest)
	if err != nil {
		return fail(invalidf("index.json: %v", err))
	}
	blob := func(d descriptor, max int64, what string) ([]byte, error) {
		if err := checkDescriptor(what, d, max); err != nil {
			return nil, err
		}
		alg, hex, _ := strings.Cut(d.Digest, ":")
		b, err := readRootFile(root, "blobs/"+alg+"/"+hex, max)
		if err != nil {
			return nil, invalidf("%s %s: %v", what, d.Digest, err)
		}
		if err := verifyBlob(what, d, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	var m manifestDoc
	if err := decodeJSON("index.json", b, &m); err != nil {
		return fail(err)
	}
	desc := descriptor{}
	for depth := 0; ; depth++ {
		if depth > 4 {
			return fail(invalidf("indexes nested deeper than 4"))
		}
		if !m.isIndex() {
			break
		}
		if desc, err = pickManifest(m.Manifests, want); err != nil {
			return fail(err)
		}
		if b, err = blob(desc, lim.MaxManifest, "manifest"); err != nil {
			return fail(err)
		}
		m = manifestDoc{}
		if err := decodeJSON("manifest "+desc.Digest, b, &m); err != nil {
			return fail(err)
		}
	}
	s.digest, s.mediaType, s.manifest = desc.Digest, firstNonEmpty(m.MediaType, desc.MediaType), b
	if err := s.fromManifest(&m, lim, func(d descriptor) ([]byte, error) { return blob(d, lim.MaxConfig, "config") }, func(l *layerSrc, d descriptor) {
		alg, hex, _ := strings.Cut(d.Digest, ":")
		f, err := root.Open("blobs/" + alg + "/" + hex)
		if err != nil {
			l.missing = err
			return
		}
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			f.Close()
			l.missing = fmt.Errorf("blobs/%s/%s is not a regular file", alg, hex)
			return
		}
		s.closers = append(s.closers, f)
		l.ra, l.raSize = f, st.Size()
		l.open = func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(io.NewSectionReader(f, 0, st.Size())), nil
		}
	}); err != nil {
		return fail(err)
	}
	return s, nil
}

func readRootFile(root *os.Root, name string, max int64) ([]byte, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	return readAllMax(f, max, name)
}

func verifyBlob(what string, d descriptor, b []byte) error {
	if int64(len(b)) != d.Size {
		return invalidf("%s %s is %d bytes, the descriptor says %d", what, d.Digest, len(b), d.Size)
	}
	if got := digestOf(d.Digest, b); got != d.Digest {
		return invalidf("%s does not match its digest: %s, not %s", what, got, d.Digest)
	}
	return nil
}

// fromManifest reads the configuration and declares the layers of an
// image manifest.
func (s *source) fromManifest(m *manifestDoc, lim Limits, config func(descriptor) ([]byte, error), layer func(*layerSrc, descriptor)) error {
	if m.SchemaVersion != 2 {
		return invalidf("manifest schemaVersion is %d, not 2", m.SchemaVersion)
	}
	if strings.Contains(m.Config.MediaType, "artifact") || (m.Config.MediaType != "" && !strings.Contains(m.Config.MediaType, "image.config") && !strings.Contains(m.Config.MediaType, "container.image")) {
		s.problems = append(s.problems, fmt.Sprintf("the config media type is %q, not an image configuration", m.Config.MediaType))
	}
	cfg, err := config(m.Config)
	if err != nil {
		return err
	}
	s.config = cfg
	if len(m.Layers) > lim.MaxLayers {
		return invalidf("the manifest lists %d layers (at most %d are read)", len(m.Layers), lim.MaxLayers)
	}
	diffIDs, err := configDiffIDs(cfg)
	if err != nil {
		return err
	}
	if len(diffIDs) != len(m.Layers) {
		s.problems = append(s.problems, fmt.Sprintf("the manifest lists %d layers, the configuration %d diff_ids", len(m.Layers), len(diffIDs)))
	}
	for i, d := range m.Layers {
		l := &layerSrc{index: i, digest: d.Digest, size: d.Size, mediaType: d.MediaType}
		if i < len(diffIDs) {
			l.diffID = diffIDs[i]
		}
		if err := checkDescriptor(fmt.Sprintf("layer %d", i+1), d, 0); err != nil {
			l.missing = err
		} else {
			layer(l, d)
		}
		s.layers = append(s.layers, l)
	}
	return nil
}

func configDiffIDs(cfg []byte) ([]string, error) {
	var c struct {
		RootFS struct {
			Type    string   `json:"type"`
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := decodeJSON("the image configuration", cfg, &c); err != nil {
		return nil, err
	}
	return c.RootFS.DiffIDs, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// --- docker save tarball ---

type archiveEntry struct {
	off, size int64
	link      string // symlink target
}

func openArchive(file string, lim Limits) (*source, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	s := &source{kind: KindArchive, ref: file, closers: []io.Closer{f}}
	fail := func(err error) (*source, error) { s.Close(); return nil, err }
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	sr := io.NewSectionReader(f, 0, st.Size())
	tr := tar.NewReader(sr)
	entries := map[string]archiveEntry{}
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(invalidf("%s is not a docker save tarball: %v", file, err))
		}
		if n > 100_000 {
			return fail(invalidf("%s has more than 100000 entries", file))
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		off, _ := sr.Seek(0, io.SeekCurrent)
		switch h.Typeflag {
		case tar.TypeReg:
			entries[name] = archiveEntry{off: off, size: h.Size}
		case tar.TypeSymlink:
			entries[name] = archiveEntry{off: -1, link: path.Join(path.Dir(name), h.Linkname)}
		}
	}
	lookup := func(name string) (archiveEntry, error) {
		name = path.Clean(name)
		for range 8 {
			e, ok := entries[name]
			if !ok {
				return e, fmt.Errorf("%s is not in the tarball", name)
			}
			if e.off >= 0 {
				return e, nil
			}
			name = e.link
		}
		return archiveEntry{}, fmt.Errorf("%s: too many links", name)
	}
	read := func(name string, max int64) ([]byte, error) {
		e, err := lookup(name)
		if err != nil {
			return nil, err
		}
		if e.size > max {
			return nil, invalidf("%s is larger than %d bytes", name, max)
		}
		b := make([]byte, e.size)
		_, err = f.ReadAt(b, e.off)
		return b, err
	}
	b, err := read("manifest.json", lim.MaxManifest)
	if err != nil {
		return fail(invalidf("%s is not a docker save tarball: manifest.json: %v", file, err))
	}
	var ms []struct {
		Config   string   `json:"Config"`
		RepoTags []string `json:"RepoTags"`
		Layers   []string `json:"Layers"`
	}
	if err := decodeJSON("manifest.json", b, &ms); err != nil {
		return fail(err)
	}
	if len(ms) == 0 {
		return fail(invalidf("manifest.json lists no image"))
	}
	if len(ms) > 1 {
		s.problems = append(s.problems, fmt.Sprintf("the tarball holds %d images; the first is analysed", len(ms)))
	}
	m := ms[0]
	s.manifest = b
	s.mediaType = "docker save manifest.json"
	if len(m.RepoTags) > 0 {
		s.ref = file + " (" + m.RepoTags[0] + ")"
	}
	if s.config, err = read(m.Config, lim.MaxConfig); err != nil {
		return fail(invalidf("config %s: %v", m.Config, err))
	}
	if alg, hex, ok := blobName(m.Config); ok {
		if got := digestOf(alg+":"+hex, s.config); got != alg+":"+hex {
			return fail(invalidf("config %s does not match its digest: %s", m.Config, got))
		}
	}
	s.digest = digestOf("sha256:", s.config) // a docker archive's image id
	if len(m.Layers) > lim.MaxLayers {
		return fail(invalidf("manifest.json lists %d layers (at most %d are read)", len(m.Layers), lim.MaxLayers))
	}
	diffIDs, err := configDiffIDs(s.config)
	if err != nil {
		return fail(err)
	}
	if len(diffIDs) != len(m.Layers) {
		s.problems = append(s.problems, fmt.Sprintf("manifest.json lists %d layers, the configuration %d diff_ids", len(m.Layers), len(diffIDs)))
	}
	for i, name := range m.Layers {
		l := &layerSrc{index: i, size: -1, mediaType: "docker save layer"}
		if i < len(diffIDs) {
			l.diffID = diffIDs[i]
		}
		if alg, hex, ok := blobName(name); ok {
			l.digest = alg + ":" + hex
		}
		e, err := lookup(name)
		if err != nil {
			l.missing = err
		} else {
			l.size = e.size
			l.ra, l.raSize = io.NewSectionReader(f, e.off, e.size), e.size
			ra := l.ra
			l.open = func(context.Context) (io.ReadCloser, error) {
				return io.NopCloser(io.NewSectionReader(ra, 0, e.size)), nil
			}
		}
		s.layers = append(s.layers, l)
	}
	return s, nil
}

var blobRE = regexp.MustCompile(`^blobs/(sha256|sha512)/([a-f0-9]{64}|[a-f0-9]{128})$`)

// blobName reads the digest from a docker 25+ archive's blobs/<alg>/<hex>.
func blobName(name string) (alg, hex string, ok bool) {
	m := blobRE.FindStringSubmatch(path.Clean(name))
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// --- registry ---

// RemoteOptions configure pulls.
type RemoteOptions struct {
	// Keychain resolves credentials; nil is authn.DefaultKeychain (docker
	// and podman config files, credential helpers).
	Keychain authn.Keychain
	// Insecure allows plain HTTP for any registry (loopback registries use
	// it without being asked).
	Insecure bool
}

func openRemote(ctx context.Context, ref string, want *v1.Platform, ro RemoteOptions, lim Limits) (*source, error) {
	var nopts []name.Option
	if ro.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return nil, err
	}
	kc := ro.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithPlatform(*want)}
	desc, err := remote.Get(r, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	s := &source{kind: KindRegistry, ref: r.String()}
	if int64(len(desc.Manifest)) > lim.MaxManifest {
		return nil, invalidf("the manifest of %s is larger than %d bytes", ref, lim.MaxManifest)
	}
	var m manifestDoc
	if err := decodeJSON("the manifest of "+ref, desc.Manifest, &m); err != nil {
		return nil, err
	}
	raw, mdigest, mtype := desc.Manifest, desc.Digest.String(), string(desc.MediaType)
	if m.isIndex() {
		d, err := pickManifest(m.Manifests, want)
		if err != nil {
			return nil, err
		}
		if err := checkDescriptor("manifest", d, lim.MaxManifest); err != nil {
			return nil, err
		}
		child, err := remote.Get(r.Context().Digest(d.Digest), opts...)
		if err != nil {
			return nil, fmt.Errorf("%s@%s: %w", ref, d.Digest, err)
		}
		raw, mdigest, mtype = child.Manifest, child.Digest.String(), string(child.MediaType)
		m = manifestDoc{}
		if err := decodeJSON("manifest "+d.Digest, raw, &m); err != nil {
			return nil, err
		}
		if m.isIndex() {
			return nil, invalidf("an index inside an index is not read from a registry")
		}
	}
	s.digest, s.mediaType, s.manifest = mdigest, mtype, raw
	repo := r.Context()
	blob := func(d descriptor, max int64) (io.ReadCloser, error) {
		h, err := v1.NewHash(d.Digest)
		if err != nil {
			return nil, err
		}
		l, err := remote.Layer(repo.Digest(h.String()), opts...)
		if err != nil {
			return nil, err
		}
		return l.Compressed()
	}
	err = s.fromManifest(&m, lim, func(d descriptor) ([]byte, error) {
		if err := checkDescriptor("config", d, lim.MaxConfig); err != nil {
			return nil, err
		}
		rc, err := blob(d, lim.MaxConfig)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", d.Digest, err)
		}
		defer rc.Close()
		b, err := readAllMax(rc, lim.MaxConfig, "config")
		if err != nil {
			return nil, err
		}
		return b, verifyBlob("config", d, b)
	}, func(l *layerSrc, d descriptor) {
		l.open = func(ctx context.Context) (io.ReadCloser, error) { return blob(d, 0) }
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// looksLikeReference tells a registry reference from a path that does
// not exist: it has a registry host, a tag or a digest.
func looksLikeReference(t string) bool {
	if _, err := name.ParseReference(t); err != nil {
		return false
	}
	return strings.Contains(t, "/") || strings.Contains(t, ":") || strings.Contains(t, "@")
}

func isTarball(file string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	var h [512]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return false
	}
	return bytes.Equal(h[257:262], []byte("ustar"))
}
