package verify

import (
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// Report renders the result in the shared findings model: one artifact
// for the bundle (the signature and its signer) and one per model file.
// Every failure is a high-severity finding with verdict invalid; notes
// about accepted legacy formats are info findings.
func (r *Result) Report() *report.Report {
	rep := &report.Report{Command: "verify"}
	b := report.Artifact{Path: r.Signature, Format: "oms-bundle", Properties: map[string]string{}}
	if r.Failure != nil {
		b.Add(failure(r.Failure.Rule, r.Failure.Msg, ""))
	}
	if s := r.Signer; s != nil {
		b.Properties["method"] = string(s.Method)
		b.Properties["signer"] = s.Identity
		if s.Issuer != "" {
			b.Properties["issuer"] = s.Issuer
		}
		for _, n := range s.Notes {
			b.Add(rules.New(rules.LegacyFormat, "", n))
		}
	}
	if m := r.Manifest; m != nil {
		b.Properties["resources"] = strconv.Itoa(len(m.Resources))
		b.Properties["hash_type"] = string(m.Serialization.HashType)
		b.Properties["serialization"] = string(m.Serialization.Method)
		if m.Serialization.Method == oms.MethodShards {
			b.Properties["shard_size"] = strconv.FormatInt(m.Serialization.ShardSize, 10)
		}
		if !m.Legacy {
			b.Properties["root_digest"] = "sha256:" + hex.EncodeToString(m.RootDigest())
		}
	}
	if r.OK() {
		who := r.Signer.Identity
		if r.Signer.Issuer != "" {
			who += " (issuer " + r.Signer.Issuer + ")"
		}
		unsigned := 0
		for _, f := range r.Files {
			if f.Status == StatusUnsigned {
				unsigned++
			}
		}
		verb := "match"
		if len(r.Files)-unsigned == 1 {
			verb = "matches"
		}
		msg := fmt.Sprintf("%s %s the manifest signed by %s with the %s method", plural(len(r.Files)-unsigned, "file"), verb, who, r.Signer.Method)
		if unsigned > 0 {
			msg += fmt.Sprintf("; %s not in the manifest tolerated by --ignore-unsigned-files, not verified", plural(unsigned, "file"))
		}
		b.Add(rules.New(rules.Verified, "", msg))
	}
	rep.Artifacts = append(rep.Artifacts, b)
	for _, f := range r.Files {
		a := report.Artifact{Path: f.Path, Format: "model-file", Size: f.Size, Properties: map[string]string{"name": f.Name, "status": string(f.Status)}}
		if len(f.Digest) > 0 {
			a.Properties["digest"] = string(r.Manifest.Serialization.HashType) + ":" + hex.EncodeToString(f.Digest)
		}
		switch f.Status {
		case StatusOK:
		case StatusUnsigned:
			// Tolerated, so not a failure; but never verified, so not
			// clean either.
			a.Add(rules.New(rules.FileUnsigned, "", f.Msg))
		default:
			a.Add(failure(f.Rule, f.Msg, ""))
		}
		rep.Artifacts = append(rep.Artifacts, a)
	}
	return rep
}

// failure is a verification failure: every one is defined, with its
// reason, in the verify rule set (file problems from the oms walker are
// named after their kind).
func failure(rule rules.ID, msg, loc string) report.Finding {
	return rules.New(rule, loc, msg)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
