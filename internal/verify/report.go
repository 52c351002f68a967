package verify

import (
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/aigis-dev/aigis/internal/oms"
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
			b.Add(report.Finding{Rule: RuleLegacyFormat, Severity: report.SeverityInfo, Verdict: report.Clean, Message: n,
				Reason: "older model_signing releases wrote formats that OMS v1.0 verifiers must still accept"})
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
		b.Add(report.Finding{Rule: RuleVerified, Severity: report.SeverityInfo, Verdict: report.Clean, Message: msg})
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
			a.Add(report.Finding{Rule: RuleFileUnsigned, Severity: report.SeverityInfo, Verdict: report.Inconclusive, Message: f.Msg,
				Reason: "--ignore-unsigned-files tolerates files nobody signed; they can still change what loading the model does"})
		default:
			a.Add(failure(f.Rule, f.Msg, ""))
		}
		rep.Artifacts = append(rep.Artifacts, a)
	}
	return rep
}

var reasons = map[string]string{
	RuleBundleMalformed:   "a bundle that breaks the OMS format cannot be trusted to describe the model",
	RuleMethodMismatch:    "the verification material must match the signing method",
	RuleWrongKey:          "only the expected signer's key may vouch for the model",
	RuleSignatureInvalid:  "an altered payload or signature no longer proves who signed the model",
	RuleCertUntrusted:     "the signing certificate must chain to a trusted root, be valid and allow signing",
	RuleIdentityMismatch:  "Sigstore signatures are only as good as the identity they are checked against",
	RuleSigstoreUntrusted: "the certificate, transparency log entry and timestamps must verify against the trusted root",
	RuleFileModified:      "a file whose content differs from its signed digest is not the signed model",
	RuleFileMissing:       "a model missing a signed file is not the signed model",
	RuleFileExtra:         "a file nobody signed can change what loading the model does",
	RuleFileUnreadable:    "a file that cannot be read cannot be verified",
}

func failure(rule, msg, loc string) report.Finding {
	reason, ok := reasons[rule]
	if !ok {
		reason = "the model signing policy refuses this path (links, special files and undecodable names cannot be verified)"
	}
	return report.Finding{Rule: rule, Severity: report.SeverityHigh, Verdict: report.Invalid, Message: msg, Location: loc, Reason: reason}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
