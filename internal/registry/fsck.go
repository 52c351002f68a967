package registry

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/zeebo/blake3"

	"github.com/aigis-dev/aigis/internal/registry/store"
)

// FsckOptions configure Fsck.
type FsckOptions struct {
	// NoHash skips re-hashing blobs (sizes and presence are still checked).
	NoHash bool
}

// FsckProblem is one disagreement between the stores.
type FsckProblem struct {
	Kind    string `json:"kind"` // missing-blob, size, digest, dangling-ref, dangling-tag, manifest-digest, dangling-link
	Subject string `json:"subject"`
	Detail  string `json:"detail"`
}

// FsckReport is what Fsck found. Orphans (blob files no record names, a
// crash between the rename and the commit) and stale uploads are harmless
// and listed apart; Problems make the stores inconsistent.
type FsckReport struct {
	Blobs     int           `json:"blobs"`
	Manifests int           `json:"manifests"`
	Tags      int           `json:"tags"`
	Orphans   []string      `json:"orphans,omitempty"`
	Problems  []FsckProblem `json:"problems,omitempty"`
}

// OK reports stores that agree.
func (r *FsckReport) OK() bool { return len(r.Problems) == 0 }

func (r *FsckReport) add(kind, subject, format string, a ...any) {
	r.Problems = append(r.Problems, FsckProblem{kind, subject, fmt.Sprintf(format, a...)})
}

// Fsck checks the MetaStore and the BlobStore against each other: every
// recorded blob present, of its size and (unless NoHash) hashing to its
// digest; every manifest hashing to its digest with every blob and child
// it names in its repository; every tag naming a manifest.
func Fsck(ctx context.Context, meta store.MetaStore, blobs store.BlobStore, o FsckOptions) (*FsckReport, error) {
	rep := &FsckReport{}
	recorded := map[string]int64{}
	checks := map[string]string{}
	err := meta.View(ctx, func(tx store.Tx) error {
		if err := tx.Blobs(ctx, func(d string, n int64, c string) error { recorded[d], checks[d] = n, c; return nil }); err != nil {
			return err
		}
		ms, err := tx.Manifests(ctx, store.ManifestFilter{})
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, m := range ms {
			have[m.Repo+"@"+m.Digest] = true
		}
		for _, m := range ms {
			rep.Manifests++
			alg, _, _ := parseDigestLoose(m.Digest)
			h := newHash(alg)
			h.Write(m.Content)
			if got := digestOf(h, alg); got != m.Digest {
				rep.add("manifest-digest", m.Repo+"@"+m.Digest, "the stored manifest hashes to %s", got)
			}
			for _, r := range m.Refs {
				switch r.Kind {
				case "subject":
				case "manifest":
					if !have[m.Repo+"@"+r.Digest] {
						rep.add("dangling-ref", m.Repo+"@"+m.Digest, "names child manifest %s, which is missing", r.Digest)
					}
				default:
					if _, ok := recorded[r.Digest]; !ok {
						rep.add("dangling-ref", m.Repo+"@"+m.Digest, "names blob %s, which has no record", r.Digest)
						continue
					}
					linked, err := tx.BlobLinked(ctx, m.Repo, r.Digest)
					if err != nil {
						return err
					}
					if !linked {
						rep.add("dangling-ref", m.Repo+"@"+m.Digest, "names blob %s, which %s does not hold", r.Digest, m.Repo)
					}
				}
			}
		}
		return tx.AllTags(ctx, func(t store.TagInfo) error {
			rep.Tags++
			if !have[t.Repo+"@"+t.Digest] {
				rep.add("dangling-tag", t.Repo+":"+t.Tag, "points to %s, which is missing", t.Digest)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	present := map[string]int64{}
	if err := blobs.Walk(ctx, func(d string, n int64) error { present[d] = n; return nil }); err != nil {
		return nil, err
	}
	for d, n := range recorded {
		rep.Blobs++
		got, ok := present[d]
		switch {
		case !ok:
			rep.add("missing-blob", d, "recorded (%d bytes) but absent from the blob store", n)
			continue
		case got != n:
			rep.add("size", d, "%d bytes at rest, %d recorded", got, n)
			continue
		}
		if o.NoHash {
			continue
		}
		if err := checkBlobHash(ctx, blobs, d, checks[d]); err != nil {
			rep.add("digest", d, "%v", err)
		}
	}
	for d := range present {
		if _, ok := recorded[d]; !ok {
			rep.Orphans = append(rep.Orphans, d)
		}
	}
	return rep, nil
}

func parseDigestLoose(d string) (string, string, error) {
	alg, hex, e := parseDigest(d)
	if e != nil {
		return "sha256", "", e
	}
	return alg, hex, nil
}

// checkBlobHash hashes a blob with its digest's algorithm and, when it
// has one, its check sum, in one pass.
func checkBlobHash(ctx context.Context, blobs store.BlobStore, d, check string) error {
	alg, _, e := parseDigest(d)
	if e != nil {
		return errors.New(e.message)
	}
	b, err := blobs.Open(ctx, d)
	if err != nil {
		return err
	}
	defer b.Close()
	h := newHash(alg)
	c := blake3.New()
	if _, err := io.Copy(io.MultiWriter(h, c), b); err != nil {
		return err
	}
	if got := digestOf(h, alg); got != d {
		return fmt.Errorf("the blob does not hash to its digest (it hashes to %s)", got)
	}
	if check != "" && check != checkOf(c) {
		return fmt.Errorf("the blob matches its digest but not its recorded check sum %s: the record was changed", check)
	}
	return nil
}
